#include "sqlite_connection.hpp"

#include <utility>

namespace capsule::storage {
namespace {

// Binds a string_view without copying: SQLITE_STATIC is safe because every statement is reset
// before the bound buffers go out of scope.
void bind_text(sqlite3_stmt* s, int index, std::string_view text) {
  sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

// Resets a statement when the scope ends, whatever path returns.
class Reset {
 public:
  explicit Reset(sqlite3_stmt* s) : s_(s) {}
  ~Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Reset(const Reset&) = delete;
  Reset& operator=(const Reset&) = delete;

 private:
  sqlite3_stmt* s_;
};

// An empty std::vector/string_view may have a null data(), which SQLite would bind as NULL.
void bind_bytes(sqlite3_stmt* s, int index, const void* data, std::size_t size) {
  if (size == 0) {
    sqlite3_bind_zeroblob(s, index, 0);
  } else {
    sqlite3_bind_blob(s, index, data, static_cast<int>(size), SQLITE_STATIC);
  }
}

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, col));
  const int n = sqlite3_column_bytes(s, col);
  return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv (
  space TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (space, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage (
  space TEXT PRIMARY KEY, bytes INTEGER NOT NULL, keys INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

}  // namespace

void Connection::StmtFinalizer::operator()(sqlite3_stmt* stmt) const noexcept {
  sqlite3_finalize(stmt);
}

Result<std::unique_ptr<Connection>> Connection::open(const std::filesystem::path& file, Mode mode,
                                                     bool synchronous_full) {
  auto c = std::make_unique<Connection>();
  const int flags =
      (mode == Mode::kWriter ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) |
      SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(file.c_str(), &c->db, flags, nullptr);
  if (rc != SQLITE_OK) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot open storage " + file.string() + ": " +
                          (c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(c->db, 5000);
  if (mode == Mode::kWriter) {
    if (Status s = c->exec("PRAGMA journal_mode=WAL;"); !s) return std::move(s).error();
    if (Status s =
            c->exec(synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
        !s) {
      return std::move(s).error();
    }
    if (Status s = c->exec(kSchema); !s) return std::move(s).error();
  }
  if (Status s = c->prepare(mode); !s) return std::move(s).error();
  return c;
}

Connection::~Connection() {
  stmts = Statements{};  // statements before the connection they belong to
  sqlite3_close_v2(db);
}

Error Connection::error(std::string_view what) const {
  return make_error(ErrorCode::kInternal,
                    "storage " + std::string(what) + ": " + sqlite3_errmsg(db));
}

Status Connection::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string text = msg ? msg : "unknown error";
    sqlite3_free(msg);
    return make_error(ErrorCode::kInternal, "storage: " + text);
  }
  return ok();
}

Status Connection::prepare(Mode mode) {
  const std::pair<Stmt*, const char*> all[] = {
      {&stmts.get, "SELECT value FROM kv WHERE space=?1 AND key=?2"},
      {&stmts.entry_size, "SELECT length(key)+length(value) FROM kv WHERE space=?1 AND key=?2"},
      {&stmts.upsert,
       "INSERT INTO kv(space,key,value) VALUES(?1,?2,?3) "
       "ON CONFLICT(space,key) DO UPDATE SET value=excluded.value"},
      {&stmts.erase, "DELETE FROM kv WHERE space=?1 AND key=?2"},
      {&stmts.list, "SELECT key FROM kv WHERE space=?1 AND key>=?2 ORDER BY key"},
      {&stmts.usage_get, "SELECT bytes, keys FROM usage WHERE space=?1"},
      {&stmts.usage_put,
       "INSERT INTO usage(space,bytes,keys) VALUES(?1,?2,?3) "
       "ON CONFLICT(space) DO UPDATE SET bytes=excluded.bytes, keys=excluded.keys"},
      {&stmts.begin, "BEGIN IMMEDIATE"},
      {&stmts.commit, "COMMIT"},
      {&stmts.rollback, "ROLLBACK"},
  };
  for (const auto& [slot, sql] : all) {
    // A reader has no use for the write statements (and a read-only connection cannot BEGIN
    // IMMEDIATE).
    if (mode == Mode::kReader && slot != &stmts.get && slot != &stmts.list &&
        slot != &stmts.usage_get) {
      continue;
    }
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
      return error("prepare");
    }
    slot->reset(raw);
  }
  return ok();
}

Result<std::optional<Bytes>> Connection::get(std::string_view space, std::string_view key) {
  sqlite3_stmt* s = stmts.get.get();
  Reset reset(s);
  bind_text(s, 1, space);
  bind_bytes(s, 2, key.data(), key.size());
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return std::optional<Bytes>{};
  if (rc != SQLITE_ROW) return error("get");
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, 0));
  const auto n = static_cast<std::size_t>(sqlite3_column_bytes(s, 0));
  return std::optional<Bytes>(p ? Bytes(p, p + n) : Bytes{});
}

Result<KvUsage> Connection::usage(std::string_view space) {
  sqlite3_stmt* s = stmts.usage_get.get();
  Reset reset(s);
  bind_text(s, 1, space);
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return KvUsage{};
  if (rc != SQLITE_ROW) return error("usage");
  return KvUsage{static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)),
                 static_cast<std::uint64_t>(sqlite3_column_int64(s, 1))};
}

Status Connection::begin_write() {
  // BEGIN IMMEDIATE takes the write lock first: the usage we check is the usage we update.
  if (sqlite3_step(stmts.begin.get()) != SQLITE_DONE) {
    sqlite3_reset(stmts.begin.get());
    return error("begin");
  }
  sqlite3_reset(stmts.begin.get());
  return ok();
}

Status Connection::end_write(Status outcome) {
  if (outcome) {
    if (sqlite3_step(stmts.commit.get()) == SQLITE_DONE) {
      sqlite3_reset(stmts.commit.get());
      return ok();
    }
    sqlite3_reset(stmts.commit.get());
    outcome = error("commit");
  }
  sqlite3_step(stmts.rollback.get());
  sqlite3_reset(stmts.rollback.get());
  return outcome;
}

Status Connection::set(std::string_view space, std::string_view key, const Bytes& value,
                       const security::StorageQuota& quota) {
  if (value.size() > kMaxValueBytes) {
    return make_error(ErrorCode::kInvalidArgument, "storage value larger than 4 MiB");
  }
  if (Status s = begin_write(); !s) return s;
  return end_write(write(space, key, value, quota));
}

Result<Bytes> Connection::update(std::string_view space, std::string_view key,
                                 const KvBackend::Update& update,
                                 const security::StorageQuota& quota,
                                 const KvBackend::WritePermit& allowed) {
  // Read and write in one write transaction: no other connection, of this process or another,
  // writes the key in between.
  if (Status s = begin_write(); !s) return std::move(s).error();
  auto current = get(space, key);
  Result<Bytes> next = current ? update(*current) : Result<Bytes>(std::move(current).error());
  Status s = next ? allowed() : Status(next.error());
  if (s && next->size() > kMaxValueBytes) {
    s = make_error(ErrorCode::kInvalidArgument, "storage value larger than 4 MiB");
  }
  if (s) s = write(space, key, *next, quota);
  if (Status done = end_write(std::move(s)); !done) return std::move(done).error();
  return next;
}

Status Connection::write(std::string_view space, std::string_view key, const Bytes& value,
                         const security::StorageQuota& quota) {
  auto used = usage(space);
  if (!used) return std::move(used).error();
  std::uint64_t old_size = 0;
  bool existed = false;
  {
    sqlite3_stmt* s = stmts.entry_size.get();
    Reset reset(s);
    bind_text(s, 1, space);
    bind_bytes(s, 2, key.data(), key.size());
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      existed = true;
      old_size = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    } else if (rc != SQLITE_DONE) {
      return error("set");
    }
  }
  const std::uint64_t new_bytes = used->bytes - old_size + key.size() + value.size();
  const std::uint64_t new_keys = used->keys + (existed ? 0 : 1);
  if (new_bytes > quota.max_bytes || new_keys > quota.max_keys) {
    return make_error(ErrorCode::kQuotaExceeded,
                      "storage quota of " + std::string(space) + " exceeded: the write would use " +
                          std::to_string(new_bytes) + " of " + std::to_string(quota.max_bytes) +
                          " bytes and " + std::to_string(new_keys) + " of " +
                          std::to_string(quota.max_keys) + " keys");
  }
  {
    sqlite3_stmt* s = stmts.upsert.get();
    Reset reset(s);
    bind_text(s, 1, space);
    bind_bytes(s, 2, key.data(), key.size());
    bind_bytes(s, 3, value.data(), value.size());
    if (sqlite3_step(s) != SQLITE_DONE) return error("set");
  }
  {
    sqlite3_stmt* s = stmts.usage_put.get();
    Reset reset(s);
    bind_text(s, 1, space);
    sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(new_bytes));
    sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(new_keys));
    if (sqlite3_step(s) != SQLITE_DONE) return error("set usage");
  }
  return ok();
}

Result<bool> Connection::erase(std::string_view space, std::string_view key) {
  if (sqlite3_step(stmts.begin.get()) != SQLITE_DONE) {
    sqlite3_reset(stmts.begin.get());
    return error("begin");
  }
  sqlite3_reset(stmts.begin.get());
  auto fail = [&](Error e) -> Result<bool> {
    sqlite3_step(stmts.rollback.get());
    sqlite3_reset(stmts.rollback.get());
    return e;
  };
  std::uint64_t old_size = 0;
  {
    sqlite3_stmt* s = stmts.entry_size.get();
    Reset reset(s);
    bind_text(s, 1, space);
    bind_bytes(s, 2, key.data(), key.size());
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
      sqlite3_step(stmts.rollback.get());
      sqlite3_reset(stmts.rollback.get());
      return false;
    }
    if (rc != SQLITE_ROW) return fail(error("delete"));
    old_size = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
  }
  auto used = usage(space);
  if (!used) return fail(std::move(used).error());
  {
    sqlite3_stmt* s = stmts.erase.get();
    Reset reset(s);
    bind_text(s, 1, space);
    bind_bytes(s, 2, key.data(), key.size());
    if (sqlite3_step(s) != SQLITE_DONE) return fail(error("delete"));
  }
  {
    sqlite3_stmt* s = stmts.usage_put.get();
    Reset reset(s);
    bind_text(s, 1, space);
    sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(used->bytes - old_size));
    sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(used->keys - 1));
    if (sqlite3_step(s) != SQLITE_DONE) return fail(error("delete usage"));
  }
  if (sqlite3_step(stmts.commit.get()) != SQLITE_DONE) {
    sqlite3_reset(stmts.commit.get());
    return fail(error("commit"));
  }
  sqlite3_reset(stmts.commit.get());
  return true;
}

Result<std::vector<std::string>> Connection::list_keys(std::string_view space,
                                                       std::string_view prefix) {
  sqlite3_stmt* s = stmts.list.get();
  Reset reset(s);
  bind_text(s, 1, space);
  bind_bytes(s, 2, prefix.data(), prefix.size());
  std::vector<std::string> keys;
  int rc = 0;
  // Keys are BLOBs compared byte-wise, so every key with the prefix follows `prefix` in order.
  while ((rc = sqlite3_step(s)) == SQLITE_ROW && keys.size() < kMaxListedKeys) {
    std::string key = column_text(s, 0);
    if (key.compare(0, prefix.size(), prefix) != 0) break;
    keys.push_back(std::move(key));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error("list-keys");
  return keys;
}

Result<bool> Connection::usage_consistent(std::string_view space) {
  auto stored = usage(space);
  if (!stored) return std::move(stored).error();
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT coalesce(sum(length(key)+length(value)),0), count(*) FROM kv "
                         "WHERE space=?1",
                         -1, &raw, nullptr) != SQLITE_OK) {
    return error("prepare");
  }
  Stmt s(raw);
  bind_text(s.get(), 1, space);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return error("usage check");
  return static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0)) == stored->bytes &&
         static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 1)) == stored->keys;
}

}  // namespace capsule::storage
