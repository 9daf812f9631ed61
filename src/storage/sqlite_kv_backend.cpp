#include <utility>

#include <capsule/storage/sqlite_kv_backend.hpp>

#include "sqlite_connection.hpp"

namespace capsule::storage {

Status validate_key(std::string_view key) {
  if (key.empty()) return make_error(ErrorCode::kInvalidArgument, "empty storage key");
  if (key.size() > kMaxKeyBytes) {
    return make_error(ErrorCode::kInvalidArgument, "storage key longer than 512 bytes");
  }
  if (key.find('\0') != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, "storage key contains a NUL byte");
  }
  return ok();
}

// A connection locked for one read.
class SqliteKvBackend::Lease {
 public:
  Lease(Connection& c, std::unique_lock<std::mutex> lock) : c_(c), lock_(std::move(lock)) {}
  Connection* operator->() const { return &c_; }

 private:
  Connection& c_;
  std::unique_lock<std::mutex> lock_;
};

Result<std::unique_ptr<SqliteKvBackend>> SqliteKvBackend::open(const std::filesystem::path& file,
                                                               Options options) {
  // The writer first: it creates the file, switches it to WAL and creates the schema.
  auto writer = Connection::open(file, Connection::Mode::kWriter, options.synchronous_full);
  if (!writer) return std::move(writer).error();
  std::vector<std::unique_ptr<Connection>> readers;
  // An in-memory database belongs to its one connection: other connections would open another.
  const unsigned reader_count = file == ":memory:" ? 0 : options.readers;
  for (unsigned i = 0; i < reader_count; ++i) {
    auto r = Connection::open(file, Connection::Mode::kReader, options.synchronous_full);
    if (!r) return std::move(r).error();
    readers.push_back(std::move(*r));
  }
  return std::make_unique<SqliteKvBackend>(Key{}, std::move(*writer), std::move(readers));
}

SqliteKvBackend::SqliteKvBackend(Key /*key*/, std::unique_ptr<Connection> writer,
                                 std::vector<std::unique_ptr<Connection>> readers)
    : writer_(std::move(writer)), readers_(std::move(readers)) {}

SqliteKvBackend::~SqliteKvBackend() = default;

SqliteKvBackend::Lease SqliteKvBackend::reader() {
  if (readers_.empty()) return {*writer_, std::unique_lock(writer_->mutex)};
  // A free reader if there is one; otherwise wait for the next in turn.
  const std::size_t start = next_reader_.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < readers_.size(); ++i) {
    Connection& c = *readers_[(start + i) % readers_.size()];
    std::unique_lock lock(c.mutex, std::try_to_lock);
    if (lock.owns_lock()) return {c, std::move(lock)};
  }
  Connection& c = *readers_[start % readers_.size()];
  return {c, std::unique_lock(c.mutex)};
}

Result<std::optional<Bytes>> SqliteKvBackend::get(std::string_view space, std::string_view key) {
  if (Status s = validate_key(key); !s) return std::move(s).error();
  return reader()->get(space, key);
}

Status SqliteKvBackend::set(std::string_view space, std::string_view key, const Bytes& value,
                            const security::StorageQuota& quota) {
  if (Status s = validate_key(key); !s) return s;
  std::lock_guard lock(writer_->mutex);
  return writer_->set(space, key, value, quota);
}

Result<Bytes> SqliteKvBackend::update_if(std::string_view space, std::string_view key,
                                         const Update& update, const security::StorageQuota& quota,
                                         const WritePermit& allowed) {
  if (Status s = validate_key(key); !s) return std::move(s).error();
  std::lock_guard lock(writer_->mutex);
  return writer_->update(space, key, update, quota, allowed);
}

Result<bool> SqliteKvBackend::erase(std::string_view space, std::string_view key) {
  if (Status s = validate_key(key); !s) return std::move(s).error();
  std::lock_guard lock(writer_->mutex);
  return writer_->erase(space, key);
}

Result<bool> SqliteKvBackend::exists(std::string_view space, std::string_view key) {
  auto v = get(space, key);
  if (!v) return std::move(v).error();
  return v->has_value();
}

Result<std::vector<std::string>> SqliteKvBackend::list_keys(std::string_view space,
                                                            std::string_view prefix) {
  return reader()->list_keys(space, prefix);
}

Result<KvUsage> SqliteKvBackend::usage(std::string_view space) {
  return reader()->usage(space);
}

Result<bool> SqliteKvBackend::usage_consistent(std::string_view space) {
  std::lock_guard lock(writer_->mutex);
  return writer_->usage_consistent(space);
}

}  // namespace capsule::storage
