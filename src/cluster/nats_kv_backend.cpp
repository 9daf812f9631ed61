#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include <capsule/cluster/nats_kv_backend.hpp>

#include "kv_bucket.hpp"
#include "space_fence.hpp"

namespace capsule::cluster {
namespace {

using storage::Bytes;
using storage::KvUsage;

// Conflicting writers retry this often (with a random, growing pause) before giving up.
constexpr int kMaxAttempts = 64;
// Room kept under the server's max_payload for the headers of a conditional write.
constexpr std::size_t kHeaderRoom = 256;
// A space name is hex-encoded into one token of the subject: keep subjects well under NATS'
// 4 KiB control line (key and space both at most 512 bytes: ~2.1 KiB).
constexpr std::size_t kMaxSpaceBytes = 512;
constexpr std::string_view kUsageToken = "usage";

Status validate_space(std::string_view space) {
  if (space.empty()) return make_error(ErrorCode::kInvalidArgument, "empty storage space");
  if (space.size() > kMaxSpaceBytes) {
    return make_error(ErrorCode::kInvalidArgument, "storage space name longer than 512 bytes");
  }
  return ok();
}

std::string usage_text(const KvUsage& u) {
  return std::to_string(u.bytes) + " " + std::to_string(u.keys);
}

// "<bytes> <keys>", exactly.
std::optional<KvUsage> parse_usage(const char* begin, const char* end) {
  KvUsage u;
  auto [p, ec] = std::from_chars(begin, end, u.bytes);
  if (ec != std::errc{} || p == end || *p != ' ') return std::nullopt;
  auto [q, ec2] = std::from_chars(p + 1, end, u.keys);
  if (ec2 != std::errc{} || q != end) return std::nullopt;
  return u;
}

// a + delta, never below zero (usage only over-counts, so a clamp can only hide an error that
// was already on the safe side).
std::uint64_t add(std::uint64_t a, std::int64_t delta) {
  if (delta >= 0) return a + static_cast<std::uint64_t>(delta);
  const auto d = static_cast<std::uint64_t>(-delta);
  return a > d ? a - d : 0;
}

// `<hex_token(space)>.<hex(key)>` and `<hex_token(space)>.usage`: one token each, so
// `<hex_token(space)>.*` matches exactly the space's entries.
std::string data_key(std::string_view space, std::string_view key) {
  return hex_token(space) + "." + hex_token(key);
}

std::string usage_key(std::string_view space) {
  return hex_token(space) + "." + std::string(kUsageToken);
}

using Written = KvBucket::Written;

}  // namespace

struct NatsKvBackend::Impl {
  Options options;
  std::unique_ptr<KvBucket> bucket;
  std::unique_ptr<SpaceFence> fence;  // on `bucket`
  std::mutex rng_mutex;
  std::minstd_rand rng;

  struct Usage {
    KvUsage usage;
    std::uint64_t revision = 0;
  };

  // Fails fast while the client is reconnecting, instead of waiting for a request timeout.
  [[nodiscard]] Status check_connected() const { return bucket->check_connected("storage"); }

  [[nodiscard]] std::size_t max_value_bytes() const {
    const std::int64_t payload = bucket->max_payload();
    if (payload <= static_cast<std::int64_t>(kHeaderRoom)) return 0;
    return std::min(storage::kMaxValueBytes, static_cast<std::size_t>(payload) - kHeaderRoom);
  }

  [[nodiscard]] Result<Usage> read_usage(const std::string& key) const {
    auto entry = bucket->read(key, true);
    if (!entry) return std::move(entry).error();
    if (!entry->exists) return Usage{};
    const auto* begin = reinterpret_cast<const char*>(entry->value.data());
    const char* end = begin + entry->value.size();
    auto parsed = parse_usage(begin, end);
    if (!parsed) {
      return make_error(ErrorCode::kInternal, "NATS KV usage entry " + key + " (" +
                                                  bucket->where() + ") is corrupt: '" +
                                                  std::string(begin, end) + "'");
    }
    return Usage{*parsed, entry->revision};
  }

  Result<Written> put(const std::string& key, const void* data, std::size_t size,
                      std::uint64_t revision) const {
    auto put = bucket->put(key, data, size, revision);
    if (!put) return std::move(put).error();
    return put->written;
  }

  void backoff(int attempt) {
    const int cap_us = std::min(8000, 200 << std::min(attempt, 5));
    std::uniform_int_distribution<int> pause(cap_us / 4, cap_us);
    int us = 0;
    {
      const std::lock_guard lock(rng_mutex);
      us = pause(rng);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(us));
  }

  [[nodiscard]] Error gave_up(std::string_view space) const {
    return make_error(
        ErrorCode::kUnavailable,
        "storage of " + std::string(space) + ": gave up after " + std::to_string(kMaxAttempts) +
            " attempts that conflicted with concurrent writers (" + bucket->where() + ")");
  }

  // Adds a delta to the usage entry (compare-and-set, retried on conflicts). Used to lower it
  // after a value write and to take back a reservation whose value write lost a conflict.
  // A fenced writer's adjustment is fenced too: once its fence holds a newer token it is
  // refused, and usage over-counts by that write (the safe side).
  Status adjust_usage(std::string_view space, const std::string& key, std::int64_t bytes,
                      std::int64_t keys, const WritePermit& writer) {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (attempt > 0) backoff(attempt);
      auto check = fence->begin(space, writer);
      if (!check) return std::move(check).error();
      auto used = read_usage(key);
      if (!used) return std::move(used).error();
      if (used->revision == 0 && bytes <= 0 && keys <= 0) return ok();
      const std::string text =
          usage_text({add(used->usage.bytes, bytes), add(used->usage.keys, keys)});
      auto written = fence->put(key, text.data(), text.size(), used->revision, *check);
      if (!written) return std::move(written).error();
      if (*written == Written::kDone) return ok();
    }
    return gave_up(space);
  }
};

NatsKvBackend::NatsKvBackend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NatsKvBackend::~NatsKvBackend() = default;

Result<std::unique_ptr<NatsKvBackend>> NatsKvBackend::connect(Options options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->rng.seed(std::random_device{}());
  const Options& cfg = impl->options;
  KvBucket::Options bo;
  bo.url = cfg.url;
  bo.bucket = cfg.bucket;
  bo.description = "capsule component storage";
  bo.client_name = "capsule-kv";
  bo.timeout = cfg.timeout;
  bo.replicas = cfg.replicas;
  bo.reconnect_wait = cfg.reconnect_wait;
  bo.user = cfg.user;
  bo.password = cfg.password;
  bo.tls = cfg.tls;
  auto bucket = KvBucket::open(std::move(bo), "keep component storage in NATS KV");
  if (!bucket) return std::move(bucket).error();
  impl->bucket = std::move(*bucket);
  impl->fence = std::make_unique<SpaceFence>(*impl->bucket);
  return std::make_unique<NatsKvBackend>(std::move(impl));
}

std::size_t NatsKvBackend::max_value_bytes() const {
  return impl_->max_value_bytes();
}

bool NatsKvBackend::connected() const {
  return impl_->bucket->connected();
}

std::string NatsKvBackend::connected_url() const {
  return impl_->bucket->connected_url();
}

int NatsKvBackend::replicas() const {
  return impl_->bucket->replicas();
}

std::uint64_t NatsKvBackend::conflicts() const {
  return impl_->bucket->conflicts();
}

Result<std::optional<Bytes>> NatsKvBackend::get(std::string_view space, std::string_view key) {
  if (Status s = storage::validate_key(key); !s) return std::move(s).error();
  if (Status s = validate_space(space); !s) return std::move(s).error();
  if (Status s = impl_->check_connected(); !s) return std::move(s).error();
  auto entry = impl_->bucket->read(data_key(space, key), true);
  if (!entry) return std::move(entry).error();
  if (!entry->exists) return std::optional<Bytes>{};
  return std::optional<Bytes>(std::move(entry->value));
}

Result<bool> NatsKvBackend::exists(std::string_view space, std::string_view key) {
  if (Status s = storage::validate_key(key); !s) return std::move(s).error();
  if (Status s = validate_space(space); !s) return std::move(s).error();
  if (Status s = impl_->check_connected(); !s) return std::move(s).error();
  auto entry = impl_->bucket->read(data_key(space, key), false);
  if (!entry) return std::move(entry).error();
  return entry->exists;
}

Status NatsKvBackend::set(std::string_view space, std::string_view key, const Bytes& value,
                          const security::StorageQuota& quota) {
  return set_if(space, key, value, quota, [] { return ok(); });
}

Status NatsKvBackend::set_if(std::string_view space, std::string_view key, const Bytes& value,
                             const security::StorageQuota& quota, const WritePermit& allowed) {
  auto written = write(space, key, &value, nullptr, quota, allowed);
  if (!written) return std::move(written).error();
  return ok();
}

Result<Bytes> NatsKvBackend::update_if(std::string_view space, std::string_view key,
                                       const Update& update, const security::StorageQuota& quota,
                                       const WritePermit& allowed) {
  return write(space, key, nullptr, &update, quota, allowed);
}

Status NatsKvBackend::check_value(std::size_t size) const {
  if (size > storage::kMaxValueBytes) {
    return make_error(ErrorCode::kInvalidArgument, "storage value larger than 4 MiB");
  }
  if (const std::size_t limit = impl_->max_value_bytes(); size > limit) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "storage value of " + std::to_string(size) + " bytes is larger than the " +
            std::to_string(limit) + " bytes the NATS server " + impl_->options.url +
            " accepts (its max_payload of " + std::to_string(impl_->bucket->max_payload()) +
            " bytes less " + std::to_string(kHeaderRoom) +
            " for headers): raise max_payload in the nats-server configuration (values may "
            "be up to 4 MiB)");
  }
  return ok();
}

// One conditional write: `fixed` (set_if), or what `update` makes of the value read in the same
// attempt (update_if). The value is written on the revision it was read at, so a concurrent
// write makes the attempt lose and retry with the new value: the read-modify-write is atomic.
Result<Bytes> NatsKvBackend::write(std::string_view space, std::string_view key, const Bytes* fixed,
                                   const Update* update, const security::StorageQuota& quota,
                                   const WritePermit& allowed) {
  if (Status s = storage::validate_key(key); !s) return std::move(s).error();
  if (Status s = validate_space(space); !s) return std::move(s).error();
  if (Status s = impl_->check_connected(); !s) return std::move(s).error();
  if (fixed != nullptr) {
    if (Status s = check_value(fixed->size()); !s) return std::move(s).error();
  }
  const std::string dkey = data_key(space, key);
  const std::string ukey = usage_key(space);
  const std::uint64_t token = allowed.fence_token();
  const auto turn = impl_->fence->turn(space, token);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0) impl_->backoff(attempt);
    auto check = impl_->fence->begin(space, allowed);  // before the reads it vouches for
    if (!check) return std::move(check).error();
    auto old = impl_->bucket->read(dkey, update != nullptr);
    if (!old) return std::move(old).error();
    Bytes computed;
    if (update != nullptr) {
      auto next = (*update)(old->exists ? std::optional<Bytes>(std::move(old->value))
                                        : std::optional<Bytes>());
      if (!next) return next;
      if (Status s = check_value(next->size()); !s) return std::move(s).error();
      computed = std::move(*next);
    }
    const Bytes& value = fixed != nullptr ? *fixed : computed;
    auto used = impl_->read_usage(ukey);
    if (!used) return std::move(used).error();
    const std::uint64_t old_size = old->exists ? key.size() + old->size : 0;
    const auto delta_bytes =
        static_cast<std::int64_t>(key.size() + value.size()) - static_cast<std::int64_t>(old_size);
    const std::int64_t delta_keys = old->exists ? 0 : 1;
    const std::uint64_t new_bytes = add(used->usage.bytes, delta_bytes);
    const std::uint64_t new_keys = add(used->usage.keys, delta_keys);
    if (new_bytes > quota.max_bytes || new_keys > quota.max_keys) {
      return make_error(
          ErrorCode::kQuotaExceeded,
          "storage quota of " + std::string(space) + " exceeded: the write would use " +
              std::to_string(new_bytes) + " of " + std::to_string(quota.max_bytes) + " bytes and " +
              std::to_string(new_keys) + " of " + std::to_string(quota.max_keys) + " keys");
    }
    const bool grows = delta_bytes > 0 || delta_keys > 0;
    if (grows) {
      // Reserve first: the usage entry moves only if nobody changed it since we read it.
      const std::string text = usage_text({new_bytes, new_keys});
      if (Status s = allowed(); !s) return std::move(s).error();
      auto reserved = impl_->fence->put(ukey, text.data(), text.size(), used->revision, *check);
      if (!reserved) return std::move(reserved).error();
      if (*reserved == Written::kConflict) continue;
    }
    if (Status s = allowed(); !s) {
      if (grows) {
        static_cast<void>(impl_->adjust_usage(space, ukey, -delta_bytes, -delta_keys, allowed));
      }
      return std::move(s).error();
    }
    auto written = impl_->fence->put(dkey, value.data(), value.size(), old->revision, *check);
    // An error leaves an unknown outcome: keep the reservation (over-counting is the safe side).
    if (!written) return std::move(written).error();
    if (*written == Written::kConflict) {
      // The key changed since we read it: the value was not written, take the reservation back.
      if (grows) {
        if (Status s = impl_->adjust_usage(space, ukey, -delta_bytes, -delta_keys, allowed); !s) {
          return std::move(s).error();
        }
      }
      continue;
    }
    if (delta_bytes < 0) {
      // The value is written; usage follows. Should this fail, usage over-counts, and the
      // write itself did happen, so it is reported as done.
      static_cast<void>(impl_->adjust_usage(space, ukey, delta_bytes, 0, allowed));
    }
    return fixed != nullptr ? Bytes{} : std::move(computed);
  }
  return impl_->gave_up(space);
}

Status NatsKvBackend::fence(std::string_view space, std::string_view name, std::uint64_t token) {
  if (Status s = validate_space(space); !s) return s;
  if (name.size() > kMaxSpaceBytes) {
    return make_error(ErrorCode::kInvalidArgument, "fenced name longer than 512 bytes");
  }
  if (Status s = impl_->check_connected(); !s) return s;
  return impl_->fence->move_to(space, name, token, kMaxAttempts,
                               [this](int attempt) { impl_->backoff(attempt); });
}

bool NatsKvBackend::server_fencing() const {
  return impl_->bucket->server_checks_filters();
}

int NatsKvBackend::server_api_level() const {
  return impl_->bucket->api_level();
}

Result<bool> NatsKvBackend::erase(std::string_view space, std::string_view key) {
  return erase_if(space, key, [] { return ok(); });
}

Result<bool> NatsKvBackend::erase_if(std::string_view space, std::string_view key,
                                     const WritePermit& allowed) {
  if (Status s = storage::validate_key(key); !s) return std::move(s).error();
  if (Status s = validate_space(space); !s) return std::move(s).error();
  if (Status s = impl_->check_connected(); !s) return std::move(s).error();
  const std::string dkey = data_key(space, key);
  const std::uint64_t token = allowed.fence_token();
  const auto turn = impl_->fence->turn(space, token);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0) impl_->backoff(attempt);
    auto check = impl_->fence->begin(space, allowed);
    if (!check) return std::move(check).error();
    auto old = impl_->bucket->read(dkey, false);
    if (!old) return std::move(old).error();
    if (!old->exists) return false;
    if (Status s = allowed(); !s) return std::move(s).error();
    auto removed = impl_->fence->remove(dkey, old->revision, *check);
    if (!removed) return std::move(removed).error();
    if (*removed == Written::kConflict) continue;
    // Deleted; usage follows (over-counts if this fails, and the delete still happened).
    static_cast<void>(impl_->adjust_usage(
        space, usage_key(space), -static_cast<std::int64_t>(key.size() + old->size), -1, allowed));
    return true;
  }
  return impl_->gave_up(space);
}

Result<std::vector<std::string>> NatsKvBackend::list_keys(std::string_view space,
                                                          std::string_view prefix) {
  if (Status s = validate_space(space); !s) return std::move(s).error();
  if (Status s = impl_->check_connected(); !s) return std::move(s).error();
  const std::string space_hex = hex_token(space);
  const std::string wanted = hex_token(prefix);
  std::vector<std::string> keys;
  const Status watched = impl_->bucket->watch(space_hex + ".*", true, [&](kvEntry* e) {
    std::string_view name = kvEntry_Key(e);
    if (name.size() <= space_hex.size()) return;
    name.remove_prefix(space_hex.size() + 1);
    // The hex of a prefix is a prefix of the hex: filter before decoding.
    if (name.compare(0, wanted.size(), wanted) != 0) return;
    if (auto decoded = unhex_token(name)) keys.push_back(std::move(*decoded));  // not `usage`
  });
  if (!watched) return std::move(watched).error();
  // std::string compares as unsigned char: byte-wise, as the interface wants.
  std::sort(keys.begin(), keys.end());
  if (keys.size() > storage::kMaxListedKeys) keys.resize(storage::kMaxListedKeys);
  return keys;
}

Result<KvUsage> NatsKvBackend::usage(std::string_view space) {
  if (Status s = validate_space(space); !s) return std::move(s).error();
  if (Status s = impl_->check_connected(); !s) return std::move(s).error();
  auto used = impl_->read_usage(usage_key(space));
  if (!used) return std::move(used).error();
  return used->usage;
}

Result<KvUsage> NatsKvBackend::recompute_usage(std::string_view space) {
  if (Status s = validate_space(space); !s) return std::move(s).error();
  if (Status s = impl_->check_connected(); !s) return std::move(s).error();
  const std::string space_hex = hex_token(space);
  KvUsage total;
  const Status watched = impl_->bucket->watch(space_hex + ".*", false, [&](kvEntry* e) {
    std::string_view name = kvEntry_Key(e);
    if (name.size() <= space_hex.size()) return;
    name.remove_prefix(space_hex.size() + 1);
    if (auto decoded = unhex_token(name)) {
      total.bytes += decoded->size() + static_cast<std::uint64_t>(std::max(0, kvEntry_ValueLen(e)));
      ++total.keys;
    }
  });
  if (!watched) return std::move(watched).error();
  return total;
}

}  // namespace capsule::cluster
