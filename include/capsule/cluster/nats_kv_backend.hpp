#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <capsule/cluster/tls_files.hpp>
#include <capsule/storage/kv_backend.hpp>

namespace capsule::cluster {

// KvBackend over a NATS JetStream key-value bucket, shared by every host of a cluster: a
// component keeps its storage wherever it runs. One NATS connection per backend (reconnects
// forever, like NatsBridge); the bucket is created on first use or bound if it exists.
//
// Layout in the bucket: `<hex(space)>.<hex(key)>` holds a value (lowercase hex keeps byte-wise
// order and admits any key byte, where NATS KV keys allow only [-/_=.a-zA-Z0-9]), and
// `<hex(space)>.usage` holds the space's usage ("<bytes> <keys>"; never a data key, since
// "usage" is not hex), `<hex(space)>.fence` a failover unit's fencing token and
// `<hex(space)>.fence-<hex(name)>` that of one name of an on-demand component (see fence()).
//
// Quota across hosts: optimistic concurrency on revisions. A write that grows the space first
// moves the usage entry forward (compare-and-set on its revision, after the quota check), then
// writes the value on the revision it read; a write that shrinks it writes the value first and
// lowers the usage after. A conflicting value write takes its usage change back and retries.
// Usage therefore never under-counts: a crash or lost connection between the two writes leaves
// it over-counting (a space can be refused early, never let past its quota).
class NatsKvBackend final : public storage::KvBackend {
 public:
  struct Options {
    std::string url = "nats://127.0.0.1:4222";
    std::string bucket = "capsule_kv";        // [A-Za-z0-9_-]+; the JetStream stream is KV_<bucket>
    std::chrono::milliseconds timeout{2000};  // connect, and each JetStream request
    int replicas = 1;  // of the bucket, when this backend creates it (3 on a JetStream cluster)
    std::chrono::milliseconds reconnect_wait{200};  // between reconnect attempts (unbounded)
    std::string user;                               // credentials (cluster_auth.hpp); empty: none
    std::string password;
    TlsFiles tls;  // TLS to the server (tls_files.hpp); not enabled: plain TCP
  };

  // Connects and creates or binds the bucket. kUnavailable if no server answers or the server
  // runs without JetStream; kInvalidArgument for a bad bucket name.
  static Result<std::unique_ptr<NatsKvBackend>> connect(Options options);
  ~NatsKvBackend() override;
  NatsKvBackend(const NatsKvBackend&) = delete;
  NatsKvBackend& operator=(const NatsKvBackend&) = delete;

  Result<std::optional<storage::Bytes>> get(std::string_view space, std::string_view key) override;
  Status set(std::string_view space, std::string_view key, const storage::Bytes& value,
             const security::StorageQuota& quota) override;
  Result<bool> erase(std::string_view space, std::string_view key) override;
  Result<bool> exists(std::string_view space, std::string_view key) override;
  Result<std::vector<std::string>> list_keys(std::string_view space,
                                             std::string_view prefix) override;
  Result<storage::KvUsage> usage(std::string_view space) override;
  // Asks `allowed` right before every conditional write of the attempt (usage reservation, value,
  // delete marker) and after every lost race, so a retry never outlives the permission.
  Status set_if(std::string_view space, std::string_view key, const storage::Bytes& value,
                const security::StorageQuota& quota, const WritePermit& allowed) override;
  Result<bool> erase_if(std::string_view space, std::string_view key,
                        const WritePermit& allowed) override;
  // The value is read with its revision and written on it: a concurrent write makes the attempt
  // lose and run `update` again on the newer value (optimistic, like set_if).
  Result<storage::Bytes> update_if(std::string_view space, std::string_view key,
                                   const Update& update, const security::StorageQuota& quota,
                                   const WritePermit& allowed) override;

  // Fencing (docs/cluster.md, "Leases", "Name claims"): a write whose permit carries a token is
  // checked by the server when it can check conditions over a key pattern (nats-server >= 2.11):
  // the write lands only if nothing in the space changed since the writer read it, which it did
  // after confirming that its fence (`<hex(space)>.fence` for a failover unit's lease token,
  // `<hex(space)>.fence-<hex(name)>` for a name's claim token) holds its token. Older servers:
  // only the writer's own checks (the permit). fence() writes the token (only forward).
  Status fence(std::string_view space, std::string_view name, std::uint64_t token) override;
  // Whether the connected server checks fenced writes itself (asked again after a reconnect).
  [[nodiscard]] bool server_fencing() const;
  // The server's JetStream API level as last read (0: nats-server older than 2.11).
  [[nodiscard]] int server_api_level() const;

  // Sums the space's entries (reads every value): for tests and for checking a space after a
  // crash. usage() may exceed it (see above), never fall below it.
  Result<storage::KvUsage> recompute_usage(std::string_view space);
  // Largest value the connected server accepts (its max_payload less room for headers).
  [[nodiscard]] std::size_t max_value_bytes() const;
  [[nodiscard]] bool connected() const;
  // The server the backend's connection is on now ("" while it is not): with several servers in
  // Options::url, whichever it reached (it moves to another when that one goes away).
  [[nodiscard]] std::string connected_url() const;
  // The bucket's replicas as the server reported them at connect (an existing bucket keeps its
  // own, whatever Options::replicas asked for).
  [[nodiscard]] int replicas() const;
  // Conditional writes that lost to a concurrent writer (each one was retried or taken back).
  [[nodiscard]] std::uint64_t conflicts() const;

  struct Impl;
  explicit NatsKvBackend(std::unique_ptr<Impl> impl);

 private:
  [[nodiscard]] Status check_value(std::size_t size) const;
  Result<storage::Bytes> write(std::string_view space, std::string_view key,
                               const storage::Bytes* fixed, const Update* update,
                               const security::StorageQuota& quota, const WritePermit& allowed);

  std::unique_ptr<Impl> impl_;
};

}  // namespace capsule::cluster
