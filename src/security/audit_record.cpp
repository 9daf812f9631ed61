#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include <capsule/security/audit.hpp>

namespace capsule::security {
namespace {

std::string iso8601(Clock::time_point when) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 96> buf{};
  std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf.data();
}

}  // namespace

std::string to_json_line(const AuditRecord& record) {
  // Targets and reasons can carry guest-chosen bytes: the JSON library escapes them, and bytes
  // that are not UTF-8 become U+FFFD instead of making the line invalid JSON.
  const nlohmann::ordered_json line{
      {"ts", iso8601(record.when)},         {"who", record.who.to_string()},
      {"action", to_string(record.action)}, {"target", record.target},
      {"allowed", record.allowed},          {"reason", record.reason}};
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string to_json_line(const AdminAuditRecord& record) {
  // The target and outcome can carry client-chosen bytes (a path, a route): escaped as above.
  const nlohmann::ordered_json line{{"ts", iso8601(record.when)}, {"kind", "admin"},
                                    {"who", record.caller},       {"action", record.action},
                                    {"target", record.target},    {"allowed", record.allowed},
                                    {"outcome", record.outcome}};
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void MemoryAuditSink::record(const AuditRecord& record) {
  std::lock_guard lock(mutex_);
  records_.push_back(record);
}

void MemoryAuditSink::record_admin(const AdminAuditRecord& record) {
  std::lock_guard lock(mutex_);
  admin_records_.push_back(record);
}

std::vector<AdminAuditRecord> MemoryAuditSink::admin_records() const {
  std::lock_guard lock(mutex_);
  return admin_records_;
}

std::vector<AuditRecord> MemoryAuditSink::records() const {
  std::lock_guard lock(mutex_);
  return records_;
}

std::size_t MemoryAuditSink::denied_count() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(records_.begin(), records_.end(), [](const auto& r) { return !r.allowed; }));
}

void MemoryAuditSink::clear() {
  std::lock_guard lock(mutex_);
  records_.clear();
  admin_records_.clear();
}

}  // namespace capsule::security
