#pragma once

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <capsule/core/component_id.hpp>
#include <capsule/core/result.hpp>
#include <capsule/security/capability.hpp>

namespace capsule::security {

// One capability check: who tried what on which target, the outcome and why.
struct AuditRecord {
  Clock::time_point when;
  ComponentId who;
  Action action = Action::kSend;
  std::string target;
  bool allowed = false;
  std::string reason;
};

// {"ts":"2026-11-23T08:30:00.123Z","who":"a/b/0","action":"storage.read","target":"k",
//  "allowed":false,"reason":"..."} : one line, no trailing newline, every string JSON-escaped.
[[nodiscard]] std::string to_json_line(const AuditRecord& record);

// One request to the host's admin endpoint (an operator, not a component): who made it, what it
// asked for, and what came of it. Refusals (a wrong token, a web page's Origin) are records too.
struct AdminAuditRecord {
  Clock::time_point when;
  std::string caller;  // "unix:uid=1000,pid=4242" or "token@127.0.0.1:53422" (see docs/cli.md)
  std::string
      action;  // "admin.stop", "admin.upgrade", ... ; "admin.auth" for a refusal at the door
  std::string target;  // component or instance id, upgrade file, or the route refused
  bool allowed = false;
  std::string outcome;  // "ok" or why not
};

// {"ts":"...","kind":"admin","who":"unix:uid=1000,pid=4242","action":"admin.stop",
//  "target":"demo/echo","allowed":true,"outcome":"ok"} : one line, every string JSON-escaped.
[[nodiscard]] std::string to_json_line(const AdminAuditRecord& record);

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Called from any runtime thread, concurrently: implementations synchronise themselves.
  virtual void record(const AuditRecord& record) = 0;
  virtual void record_admin(const AdminAuditRecord& record) = 0;
};

// Keeps records in memory, for tests and the admin endpoint.
class MemoryAuditSink final : public AuditSink {
 public:
  void record(const AuditRecord& record) override;
  void record_admin(const AdminAuditRecord& record) override;
  [[nodiscard]] std::vector<AuditRecord> records() const;
  [[nodiscard]] std::vector<AdminAuditRecord> admin_records() const;
  [[nodiscard]] std::size_t denied_count() const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::vector<AuditRecord> records_;
  std::vector<AdminAuditRecord> admin_records_;
};

// Appends one JSON line per record to a file, flushed per record so a crash loses nothing that
// was reported.
class JsonLinesAuditSink final : public AuditSink {
 public:
  struct FileCloser {
    // The unique_ptr is the owner; closing is its one job.
    void operator()(std::FILE* f) const noexcept {
      static_cast<void>(std::fclose(f));  // NOLINT(cppcoreguidelines-owning-memory)
    }
  };
  using File = std::unique_ptr<std::FILE, FileCloser>;
  struct Key {  // only open() constructs one
   private:
    friend class JsonLinesAuditSink;
    Key() = default;
  };
  JsonLinesAuditSink(Key /*key*/, File file) : file_(std::move(file)) {}

  static Result<std::unique_ptr<JsonLinesAuditSink>> open(const std::filesystem::path& path);
  void record(const AuditRecord& record) override;
  void record_admin(const AdminAuditRecord& record) override;

 private:
  void write_line(std::string line);

  std::mutex mutex_;
  File file_;
};

}  // namespace capsule::security
