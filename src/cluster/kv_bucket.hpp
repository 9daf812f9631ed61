#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <capsule/core/result.hpp>

#include "nats_handles.hpp"

namespace capsule::cluster {

// Lowercase hex: byte-wise order of the encodings is the byte-wise order of the bytes, and the
// result uses only characters NATS KV keys allow (one subject token, whatever the bytes).
[[nodiscard]] std::string hex_token(std::string_view bytes);
// The bytes back, or nullopt when `text` is not lowercase hex of whole bytes.
[[nodiscard]] std::optional<std::string> unhex_token(std::string_view text);

// One JetStream key-value bucket on its own NATS connection (reconnecting forever), with the
// conditional operations capsule builds on: read with revision, write only at a revision, delete
// only at a revision. Shared by the storage backend and the lease keeper.
class KvBucket {
 public:
  struct Options {
    std::string url;
    std::string bucket;                       // [A-Za-z0-9_-]+; the JetStream stream is KV_<bucket>
    std::string description;                  // shown by `nats kv ls`
    std::string client_name;                  // shown by the server's connection list
    std::chrono::milliseconds timeout{2000};  // connect, and each JetStream request
    int replicas = 1;                         // of the bucket, when this client creates it
    // How long open() waits for a JetStream that does not answer yet (a cluster electing its
    // meta leader after a server died).
    std::chrono::milliseconds startup_wait{30000};
    std::chrono::milliseconds reconnect_wait{200};
    std::string user;  // empty: no credentials
    std::string password;
    TlsFiles tls;  // not enabled: plain TCP
  };

  // An entry as read: revision 0 when absent (or deleted).
  struct Entry {
    bool exists = false;
    std::uint64_t revision = 0;
    std::size_t size = 0;
    std::vector<std::uint8_t> value;
  };
  // A conditional write either happened or lost to a concurrent writer.
  enum class Written : std::uint8_t { kDone, kConflict };
  struct Put {
    Written written = Written::kDone;
    std::uint64_t revision = 0;  // of the new entry, when written
  };

  // Connects, then binds the bucket or creates it. kUnavailable if no server answers or it runs
  // without JetStream (`purpose` says what for, in that error); kInvalidArgument for a bad name.
  static Result<std::unique_ptr<KvBucket>> open(Options options, std::string_view purpose);
  ~KvBucket();
  KvBucket(const KvBucket&) = delete;
  KvBucket& operator=(const KvBucket&) = delete;

  [[nodiscard]] Result<Entry> read(const std::string& key, bool with_value) const;
  // Writes `key` only if it is still at `revision` (0: only if absent or deleted).
  Result<Put> put(const std::string& key, const void* data, std::size_t size,
                  std::uint64_t revision);
  // Places a delete marker on `key` only if it is still at `revision`.
  Result<Written> remove(const std::string& key, std::uint64_t revision);

  // A condition the server checks on a write: the last revision of every key under `filter`
  // (a key pattern such as "<space>.*") is still `last` (0: none exists). Needs
  // server_checks_filters(); an older server ignores it (see there).
  struct Expect {
    std::string filter;
    std::uint64_t last = 0;
  };
  // The newest revision of any key under `filter` (0 if none).
  [[nodiscard]] Result<std::uint64_t> last_revision(const std::string& filter) const;
  // Writes `key` (or its delete marker) only if `expect` holds when the server stores it.
  Result<Put> put(const std::string& key, const void* data, std::size_t size, const Expect& expect);
  Result<Put> remove(const std::string& key, const Expect& expect);
  // Whether the server checks an expected last revision over a key pattern
  // (Nats-Expected-Last-Subject-Sequence-Subject, nats-server >= 2.11, whose JetStream API
  // reports level >= 1). Asked again after each reconnect: it may be another server now. Never
  // send Expect to a server that says no: nats-server 2.9 then skips the revision check entirely.
  [[nodiscard]] bool server_checks_filters() const;
  // The JetStream API level the server reported (0: below 2.11), as of the last check.
  [[nodiscard]] int api_level() const { return api_level_.load(std::memory_order_relaxed); }

  // Calls `each` with every live entry under `filter` as it is when the call starts.
  template <typename F>
  Status watch(const std::string& filter, bool meta_only, F&& each);

  [[nodiscard]] bool connected() const;
  // The server the client is connected to now ("" while it is not): with a list of servers in
  // `url` (a JetStream cluster), whichever one it reached.
  [[nodiscard]] std::string connected_url() const;
  // The bucket's replicas as the server reported them when it was opened (an existing bucket
  // keeps its own, whatever Options::replicas asked for).
  [[nodiscard]] int replicas() const { return replicas_; }
  // kUnavailable naming the server while the client is reconnecting (fails fast instead of
  // waiting for a request timeout); `what` names what is unavailable ("storage").
  [[nodiscard]] Status check_connected(std::string_view what) const;
  // A failed cnats call as an error naming the bucket and server; connection trouble and a
  // JetStream that is not (yet) answering are kUnavailable.
  [[nodiscard]] Error error(natsStatus s, std::string_view what) const;
  [[nodiscard]] std::string where() const;
  // The server's max_payload, 0 before the first connection.
  [[nodiscard]] std::int64_t max_payload() const;
  // Conditional writes that lost to a concurrent writer.
  [[nodiscard]] std::uint64_t conflicts() const {
    return conflicts_.load(std::memory_order_relaxed);
  }

  KvBucket() = default;  // for open()

 private:
  [[nodiscard]] Status watch_start(const std::string& filter, bool meta_only,
                                   nats::KvWatcher& watcher) const;
  // One conditional publish on the key's subject (a value, or a delete marker when data is
  // null): on `revision` of the key itself, or on `expect`.
  Result<Put> publish(const std::string& key, const void* data, std::size_t size,
                      std::uint64_t revision, const Expect* expect);
  // Reads the JetStream API level from $JS.API.INFO (0 when the server reports none).
  void read_api_level() const;
  [[nodiscard]] std::uint64_t reconnects() const;

  Options options_;
  std::string subject_prefix_;  // "$KV.<bucket>.": the subject of a key
  std::string stream_;          // "KV_<bucket>"
  // Declaration order is destruction order reversed: the store goes before the context, the
  // context before the connection.
  nats::Connection connection_;
  nats::JetStream js_;
  nats::KvStore kv_;
  std::atomic<std::uint64_t> conflicts_{0};
  int replicas_ = 0;
  bool direct_ = true;  // the stream answers direct gets (any replica may)
  mutable std::atomic<int> api_level_{0};
  mutable std::atomic<std::uint64_t> level_read_at_{0};  // reconnects() when it was read
};

template <typename F>
Status KvBucket::watch(const std::string& filter, bool meta_only, F&& each) {
  nats::KvWatcher watcher;
  if (Status s = watch_start(filter, meta_only, watcher); !s) return s;
  for (;;) {
    kvEntry* next = nullptr;
    const natsStatus s = kvWatcher_Next(&next, watcher.get(), options_.timeout.count());
    const nats::KvEntry entry(next);
    if (s != NATS_OK) return error(s, "list");
    if (next == nullptr) return ok();  // the end of the entries that existed at the start
    each(next);
  }
}

}  // namespace capsule::cluster
