#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <vector>

#include <capsule/storage/kv_backend.hpp>

namespace capsule::storage {

// KvBackend over one SQLite file per host, in WAL mode. Table `kv(space, key, value)` holds the
// data and `usage(space, bytes, keys)` the running totals, updated in the same transaction as
// every write: the quota check reads and the write commits atomically, and usage() costs one row.
// With synchronous=FULL a write that returned ok survives a kill -9 or power loss of the host.
// Writes go through one writer connection (SQLite has one writer per file anyway); reads go to a
// pool of read-only connections, which WAL lets run while a write is in progress: one
// component's writes do not stall every other component's reads.
class SqliteKvBackend final : public KvBackend {
 public:
  struct Options {
    bool synchronous_full = true;  // false: NORMAL, survives process crashes but not power loss
    // Read-only connections for get/exists/list-keys/usage. 0: reads share the writer's
    // connection and wait behind writes (the layout before readers). ":memory:" has none.
    unsigned readers = 4;
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
  struct Connection;
  SqliteKvBackend(Key /*key*/, std::unique_ptr<Connection> writer,
                  std::vector<std::unique_ptr<Connection>> readers);
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
  // The read and the write run in one write transaction (BEGIN IMMEDIATE) on the writer
  // connection: no other write, from this handle or another process, lands in between.
  Result<Bytes> update_if(std::string_view space, std::string_view key, const Update& update,
                          const security::StorageQuota& quota, const WritePermit& allowed) override;

  // Recomputes usage from the data and compares it with the stored totals: for crash tests.
  Result<bool> usage_consistent(std::string_view space);

 private:
  // A reader connection, locked for the caller (the writer's when there are no readers).
  class Lease;
  Lease reader();

  std::unique_ptr<Connection> writer_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::atomic<std::size_t> next_reader_{0};
};

}  // namespace capsule::storage
