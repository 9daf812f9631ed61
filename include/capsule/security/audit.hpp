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

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Called from any runtime thread, concurrently: implementations synchronise themselves.
  virtual void record(const AuditRecord& record) = 0;
};

// Keeps records in memory, for tests and the admin endpoint.
class MemoryAuditSink final : public AuditSink {
 public:
  void record(const AuditRecord& record) override;
  [[nodiscard]] std::vector<AuditRecord> records() const;
  [[nodiscard]] std::size_t denied_count() const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::vector<AuditRecord> records_;
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

 private:
  std::mutex mutex_;
  File file_;
};

}  // namespace capsule::security
