#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <capsule/core/result.hpp>
#include <capsule/security/capability.hpp>

namespace capsule::storage {

using Bytes = std::vector<std::uint8_t>;

struct KvUsage {
  std::uint64_t bytes = 0;  // sum of key and value sizes
  std::uint64_t keys = 0;
};

inline constexpr std::size_t kMaxKeyBytes = 512;
inline constexpr std::size_t kMaxValueBytes = std::size_t{4} << 20;
inline constexpr std::size_t kMaxListedKeys = 10000;

// Rejects keys a backend must never see: empty, longer than kMaxKeyBytes, or with a NUL byte
// (several backends, NATS KV among them, cannot store those).
Status validate_key(std::string_view key);

// Persistent key-value storage divided into isolated spaces ("ns/name": one per component, shared
// by its instances). A space never sees another's keys: isolation is the backend's job, not the
// caller's key naming. Thread-safe. SqliteKvBackend is the single-host implementation; a NATS KV
// backend for clusters implements the same interface.
class KvBackend {
 public:
  virtual ~KvBackend() = default;

  virtual Result<std::optional<Bytes>> get(std::string_view space, std::string_view key) = 0;
  // Writes atomically with the quota check: a write that would leave the space over `quota`
  // fails with quota-exceeded and changes nothing.
  virtual Status set(std::string_view space, std::string_view key, const Bytes& value,
                     const security::StorageQuota& quota) = 0;
  // Returns whether the key existed.
  virtual Result<bool> erase(std::string_view space, std::string_view key) = 0;
  virtual Result<bool> exists(std::string_view space, std::string_view key) = 0;
  // Keys starting with `prefix`, sorted byte-wise, at most kMaxListedKeys.
  virtual Result<std::vector<std::string>> list_keys(std::string_view space,
                                                     std::string_view prefix) = 0;
  virtual Result<KvUsage> usage(std::string_view space) = 0;

  // A write allowed only while `allowed` says so (a failover unit's serving window): a backend
  // whose write is several steps, or retries after losing a race, asks again right before each
  // step leaves, so a writer that lost its right while it was paused cannot land a late write by
  // retrying. `allowed`'s error is returned as is. The defaults ask once, then write.
  // A permit may also carry the writer's fencing token: a backend that can make its server check
  // it refuses the write once the fence it names was moved to a newer token (see fence()),
  // wherever the writer was paused. The fence is the space's own (a failover unit's lease token;
  // `fence_name` empty) or one name's within the space (an activation of an on-demand component:
  // its instance name and the token of the claim it was activated under). 0: no token, the check
  // is the writer's.
  class WritePermit {
   public:
    template <typename F>
      requires(!std::is_same_v<std::remove_cvref_t<F>, WritePermit> &&
               std::is_invocable_r_v<Status, const F&>)
    WritePermit(F check, std::uint64_t fence_token = 0,  // NOLINT: a lambda is a permit
                std::string fence_name = {})
        : check_(std::move(check)), fence_token_(fence_token), fence_name_(std::move(fence_name)) {}
    Status operator()() const { return check_(); }
    [[nodiscard]] std::uint64_t fence_token() const { return fence_token_; }
    [[nodiscard]] const std::string& fence_name() const { return fence_name_; }

    // Runs when the backend refuses the write because its fence holds another token: unlike a
    // closed window, which may reopen, the writer has lost its right for good.
    void when_fenced(std::function<void(const Error&)> fenced) { fenced_ = std::move(fenced); }
    void fenced(const Error& why) const {
      if (fenced_) fenced_(why);
    }

   private:
    std::function<Status()> check_;
    std::uint64_t fence_token_ = 0;
    std::string fence_name_;
    std::function<void(const Error&)> fenced_;
  };

  // Makes `token` the fencing token of the space (`name` empty: a failover unit's) or of one name
  // in it (an on-demand component's instance) before its new holder serves it: from then on the
  // backend refuses writes to the space that carry an older token for that fence, or whose writer
  // read the space before the fence. Tokens only grow; a token older than the fence's is refused
  // (kUnavailable). Backends that only one host reaches (SQLite) need no fence: the default does
  // nothing.
  virtual Status fence(std::string_view /*space*/, std::string_view /*name*/,
                       std::uint64_t /*token*/) {
    return ok();
  }
  virtual Status set_if(std::string_view space, std::string_view key, const Bytes& value,
                        const security::StorageQuota& quota, const WritePermit& allowed) {
    if (Status s = allowed(); !s) return s;
    return set(space, key, value, quota);
  }
  virtual Result<bool> erase_if(std::string_view space, std::string_view key,
                                const WritePermit& allowed) {
    if (Status s = allowed(); !s) return std::move(s).error();
    return erase(space, key);
  }

  // Read-modify-write of one key as one atomic step (wasi:keyvalue's atomics.increment): `update`
  // gets the current value (none if absent) and returns the value to write, or an error that
  // changes nothing. No other write to the key lands between the read and the write; the write
  // is checked against `quota` and `allowed` like set_if. Returns the value written. `update` may
  // run more than once (a backend that retries after losing a race) and must not have side
  // effects. A backend that cannot do it atomically says so (the default): never a read and a
  // separate write, which would lose concurrent updates.
  using Update = std::function<Result<Bytes>(const std::optional<Bytes>& current)>;
  virtual Result<Bytes> update_if(std::string_view space, std::string_view /*key*/,
                                  const Update& /*update*/, const security::StorageQuota& /*quota*/,
                                  const WritePermit& /*allowed*/) {
    return make_error(ErrorCode::kNotImplemented,
                      "storage of " + std::string(space) +
                          ": this storage backend has no atomic read-modify-write");
  }
};

}  // namespace capsule::storage
