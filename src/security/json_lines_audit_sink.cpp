#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capsule/security/audit.hpp>

namespace capsule::security {

Result<std::unique_ptr<JsonLinesAuditSink>> JsonLinesAuditSink::open(
    const std::filesystem::path& path) {
  auto failed = [&path](const char* what) {
    return make_error(ErrorCode::kUnavailable, std::string(what) + " audit log " + path.string() +
                                                   ": " + std::strerror(errno));
  };
  // 0600: the log names callers and what they were denied, which is no one else's business
  // (fopen would create it 0666 & ~umask, i.e. world-readable).
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return failed("cannot open");
  // A log created world-readable by an older version is tightened too; fchmod before fdopen so
  // that a failure still closes the descriptor (the FILE owns it only after fdopen).
  if (::fchmod(fd, 0600) != 0) {
    const int saved = errno;
    static_cast<void>(::close(fd));
    errno = saved;
    return failed("cannot restrict (chmod 0600)");
  }
  File file(::fdopen(fd, "a"));
  if (!file) {
    const int saved = errno;
    static_cast<void>(::close(fd));
    errno = saved;
    return failed("cannot open");
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
