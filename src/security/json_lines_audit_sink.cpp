#include <cerrno>
#include <cstring>

#include <capsule/security/audit.hpp>

namespace capsule::security {

Result<std::unique_ptr<JsonLinesAuditSink>> JsonLinesAuditSink::open(
    const std::filesystem::path& path) {
  File file(std::fopen(path.c_str(), "ae"));
  if (!file) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot open audit log " + path.string() + ": " + std::strerror(errno));
  }
  return std::make_unique<JsonLinesAuditSink>(Key{}, std::move(file));
}

void JsonLinesAuditSink::record(const AuditRecord& record) {
  write_line(to_json_line(record));
}

void JsonLinesAuditSink::record_admin(const AdminAuditRecord& record) {
  write_line(to_json_line(record));
}

void JsonLinesAuditSink::write_line(std::string line) {
  line += '\n';
  std::lock_guard lock(mutex_);
  // A failed write cannot be reported to the guest whose call is being audited; the stream's
  // error flag stays set and later writes keep trying.
  static_cast<void>(std::fwrite(line.data(), 1, line.size(), file_.get()));
  static_cast<void>(std::fflush(file_.get()));
}

}  // namespace capsule::security
