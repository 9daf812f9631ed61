#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

#include <capsule/security/audit.hpp>

namespace capsule::security {
namespace {

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          std::array<char, 8> buf{};
          std::snprintf(buf.data(), buf.size(), "\\u%04x", static_cast<unsigned>(c));
          out += buf.data();
        } else {
          out += c;  // bytes >= 0x80 pass through: guest strings are UTF-8 by the canonical ABI
        }
    }
  }
  out += '"';
}

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
  std::string out = "{\"ts\":";
  append_json_string(out, iso8601(record.when));
  out += ",\"who\":";
  append_json_string(out, record.who.to_string());
  out += ",\"action\":";
  append_json_string(out, to_string(record.action));
  out += ",\"target\":";
  append_json_string(out, record.target);
  out += record.allowed ? ",\"allowed\":true" : ",\"allowed\":false";
  out += ",\"reason\":";
  append_json_string(out, record.reason);
  out += '}';
  return out;
}

void MemoryAuditSink::record(const AuditRecord& record) {
  std::lock_guard lock(mutex_);
  records_.push_back(record);
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
}

}  // namespace capsule::security
