#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <sqlite3.h>
#include <string>
#include <string_view>
#include <vector>

#include <capsule/storage/sqlite_kv_backend.hpp>

namespace capsule::storage {

// One SQLite connection and its prepared statements, used by one thread at a time (the caller
// holds `mutex`). A writer creates the schema and runs the write transactions; a reader is
// read-only and has only the read statements.
struct SqliteKvBackend::Connection {
  enum class Mode : std::uint8_t { kWriter, kReader };
  static Result<std::unique_ptr<Connection>> open(const std::filesystem::path& file, Mode mode,
                                                  bool synchronous_full);
  Connection() = default;
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result<std::optional<Bytes>> get(std::string_view space, std::string_view key);
  Result<KvUsage> usage(std::string_view space);
  Result<std::vector<std::string>> list_keys(std::string_view space, std::string_view prefix);
  // Writer only: one transaction each, the usage row updated with the data.
  Status set(std::string_view space, std::string_view key, const Bytes& value,
             const security::StorageQuota& quota);
  Result<bool> erase(std::string_view space, std::string_view key);
  // Reads the key, asks `update` and `allowed`, and writes, all in one write transaction.
  Result<Bytes> update(std::string_view space, std::string_view key,
                       const KvBackend::Update& update, const security::StorageQuota& quota,
                       const KvBackend::WritePermit& allowed);
  Result<bool> usage_consistent(std::string_view space);

  std::mutex mutex;

 private:
  struct StmtFinalizer {
    void operator()(sqlite3_stmt* stmt) const noexcept;
  };
  using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;
  struct Statements {
    Stmt get, upsert, erase, list, usage_get, usage_put, begin, commit, rollback, entry_size;
  };
  Status prepare(Mode mode);
  Status begin_write();
  // Commits when `outcome` is ok (and returns the commit's outcome), rolls back otherwise.
  Status end_write(Status outcome);
  // The quota check, the value and the usage row, inside a transaction begun by the caller.
  Status write(std::string_view space, std::string_view key, const Bytes& value,
               const security::StorageQuota& quota);
  Status exec(const char* sql);
  [[nodiscard]] Error error(std::string_view what) const;

  sqlite3* db = nullptr;
  Statements stmts;
};

using Connection = SqliteKvBackend::Connection;

}  // namespace capsule::storage
