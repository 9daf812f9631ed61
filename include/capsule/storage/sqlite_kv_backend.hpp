#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include <capsule/storage/kv_backend.hpp>

struct sqlite3;
struct sqlite3_stmt;

namespace capsule::storage {

// KvBackend over one SQLite file per host, in WAL mode. Table `kv(space, key, value)` holds the
// data and `usage(space, bytes, keys)` the running totals, updated in the same transaction as
// every write: the quota check reads and the write commits atomically, and usage() costs one row.
// With synchronous=FULL a write that returned ok survives a kill -9 or power loss of the host.
class SqliteKvBackend final : public KvBackend {
 public:
  struct Options {
    bool synchronous_full = true;  // false: NORMAL, survives process crashes but not power loss
  };
  static Result<std::unique_ptr<SqliteKvBackend>> open(const std::filesystem::path& file,
                                                       Options options);
  static Result<std::unique_ptr<SqliteKvBackend>> open(const std::filesystem::path& file) {
    return open(file, Options{});
  }
  struct Key {  // only open() can construct: a backend always has its schema and statements
   private:
    friend class SqliteKvBackend;
    Key() = default;
  };
  SqliteKvBackend(Key /*key*/, std::unique_ptr<sqlite3, void (*)(sqlite3*)> db);
  ~SqliteKvBackend() override;
  SqliteKvBackend(const SqliteKvBackend&) = delete;
  SqliteKvBackend& operator=(const SqliteKvBackend&) = delete;

  Result<std::optional<Bytes>> get(std::string_view space, std::string_view key) override;
  Status set(std::string_view space, std::string_view key, const Bytes& value,
             const security::StorageQuota& quota) override;
  Result<bool> erase(std::string_view space, std::string_view key) override;
  Result<bool> exists(std::string_view space, std::string_view key) override;
  Result<std::vector<std::string>> list_keys(std::string_view space,
                                             std::string_view prefix) override;
  Result<KvUsage> usage(std::string_view space) override;

  // Recomputes usage from the data and compares it with the stored totals: for crash tests.
  Result<bool> usage_consistent(std::string_view space);

 private:
  struct StmtFinalizer {
    void operator()(sqlite3_stmt* stmt) const noexcept;
  };
  using Db = std::unique_ptr<sqlite3, void (*)(sqlite3*)>;
  using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;
  struct Statements {
    Stmt get, upsert, erase, list, usage_get, usage_put, begin, commit, rollback, entry_size;
  };
  Status prepare();
  Status exec(const char* sql);
  [[nodiscard]] Error sqlite_error(std::string_view what) const;
  Result<KvUsage> usage_locked(std::string_view space);

  std::mutex mutex_;  // one connection, one writer at a time; SQLite serialises the file anyway
  Db db_;
  Statements stmts_;
};

}  // namespace capsule::storage
