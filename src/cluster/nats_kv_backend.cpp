#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include <capsule/cluster/nats_kv_backend.hpp>

#include "nats_handles.hpp"

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
constexpr std::string_view kConflictText = "wrong last sequence";

// Lowercase hex: byte-wise order of the encodings is the byte-wise order of the bytes, and the
// result uses only characters NATS KV keys allow.
std::string hex(std::string_view bytes) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4U]);
    out.push_back(kDigits[b & 15U]);
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.empty() || text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = hex_digit(text[i]);
    const int lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

bool valid_bucket(std::string_view bucket) {
  return !bucket.empty() && std::all_of(bucket.begin(), bucket.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

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

std::string last_error_text() {
  const char* text = nats_GetLastError(nullptr);
  return text != nullptr ? std::string(text) : std::string();
}

// `<hex(space)>.<hex(key)>` and `<hex(space)>.usage`: one token each, so `<hex(space)>.*`
// matches exactly the space's entries.
std::string data_key(std::string_view space, std::string_view key) {
  return hex(space) + "." + hex(key);
}

std::string usage_key(std::string_view space) {
  return hex(space) + "." + std::string(kUsageToken);
}

enum class Written : std::uint8_t { kDone, kConflict };

}  // namespace

struct NatsKvBackend::Impl {
  Options options;
  std::string data_prefix;  // "$KV.<bucket>.": the subject of a key
  // Declaration order is destruction order reversed: the store goes before the context, the
  // context before the connection.
  nats::Connection connection;
  nats::JetStream js;
  nats::KvStore kv;
  std::mutex rng_mutex;
  std::minstd_rand rng;
  std::atomic<std::uint64_t> conflicts{0};

  // An entry as read: revision 0 when absent (or deleted).
  struct Entry {
    bool exists = false;
    std::uint64_t revision = 0;
    std::size_t size = 0;
    Bytes value;
  };
  struct Usage {
    KvUsage usage;
    std::uint64_t revision = 0;
  };

  [[nodiscard]] std::string where() const {
    return "bucket " + options.bucket + " at " + options.url;
  }

  // A failed cnats call as an error naming the server; connection trouble and a JetStream that
  // is not (yet) answering are kUnavailable.
  [[nodiscard]] Error error(natsStatus s, std::string_view what) const {
    const std::string detail = last_error_text();
    std::string message =
        "NATS KV " + std::string(what) + " (" + where() + "): " + natsStatus_GetText(s);
    if (!detail.empty() && detail != natsStatus_GetText(s)) message += " (" + detail + ")";
    const bool unavailable = s == NATS_NO_SERVER || s == NATS_CONNECTION_CLOSED ||
                             s == NATS_CONNECTION_DISCONNECTED || s == NATS_STALE_CONNECTION ||
                             s == NATS_IO_ERROR || s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS ||
                             s == NATS_NOT_YET_CONNECTED ||
                             (s == NATS_ERR && detail.find("unavailable") != std::string::npos);
    return make_error(unavailable ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                      std::move(message));
  }

  [[nodiscard]] bool connected() const {
    return natsConnection_Status(connection.get()) == NATS_CONN_STATUS_CONNECTED;
  }

  // Fails fast while the client is reconnecting, instead of waiting for a request timeout.
  [[nodiscard]] Status check_connected() const {
    if (connected()) return ok();
    return make_error(ErrorCode::kUnavailable,
                      "storage unavailable: NATS server " + options.url +
                          " is not reachable (the client keeps reconnecting)");
  }

  [[nodiscard]] std::size_t max_value_bytes() const {
    const std::int64_t payload = natsConnection_GetMaxPayload(connection.get());
    if (payload <= static_cast<std::int64_t>(kHeaderRoom)) return 0;
    return std::min(storage::kMaxValueBytes, static_cast<std::size_t>(payload) - kHeaderRoom);
  }

  [[nodiscard]] Result<Entry> read(const std::string& key, bool with_value) const {
    kvEntry* raw = nullptr;
    const natsStatus s = kvStore_Get(&raw, kv.get(), key.c_str());
    const nats::KvEntry entry(raw);
    if (s == NATS_NOT_FOUND) return Entry{};
    if (s != NATS_OK) return error(s, "get");
    Entry out;
    out.exists = true;
    out.revision = kvEntry_Revision(raw);
    const int len = kvEntry_ValueLen(raw);
    out.size = len > 0 ? static_cast<std::size_t>(len) : 0;
    if (with_value && out.size > 0) {
      const auto* p = static_cast<const std::uint8_t*>(kvEntry_Value(raw));
      out.value.assign(p, p + out.size);
    }
    return out;
  }

  [[nodiscard]] Result<Usage> read_usage(const std::string& key) const {
    auto entry = read(key, true);
    if (!entry) return std::move(entry).error();
    if (!entry->exists) return Usage{};
    const auto* begin = reinterpret_cast<const char*>(entry->value.data());
    const char* end = begin + entry->value.size();
    auto parsed = parse_usage(begin, end);
    if (!parsed) {
      return make_error(ErrorCode::kInternal, "NATS KV usage entry " + key + " (" + where() +
                                                  ") is corrupt: '" + std::string(begin, end) +
                                                  "'");
    }
    return Usage{*parsed, entry->revision};
  }

  // Writes `key` only if it is still at `revision` (0: only if it does not exist, or is deleted).
  Result<Written> put(const std::string& key, const void* data, std::size_t size,
                      std::uint64_t revision) {
    // An empty vector may have a null data(); cnats wants a pointer.
    const void* bytes = size == 0 ? static_cast<const void*>("") : data;
    const int len = static_cast<int>(size);
    const natsStatus s = revision != 0
                             ? kvStore_Update(nullptr, kv.get(), key.c_str(), bytes, len, revision)
                             : kvStore_Create(nullptr, kv.get(), key.c_str(), bytes, len);
    if (s == NATS_OK) return Written::kDone;
    if (s == NATS_ERR && last_error_text().find(kConflictText) != std::string::npos) {
      conflicts.fetch_add(1, std::memory_order_relaxed);
      return Written::kConflict;
    }
    return error(s, "write");
  }

  // Places a delete marker on `key` only if it is still at `revision`. kvStore_Delete has no
  // revision check, so this publishes the marker itself (header KV-Operation: DEL, as
  // kvStore_Delete does) with the expected last subject sequence.
  Result<Written> remove(const std::string& key, std::uint64_t revision) {
    const std::string subject = data_prefix + key;
    natsMsg* raw = nullptr;
    natsStatus s = natsMsg_Create(&raw, subject.c_str(), nullptr, nullptr, 0);
    const nats::Message msg(raw);
    if (s == NATS_OK) s = natsMsgHeader_Set(raw, "KV-Operation", "DEL");
    if (s != NATS_OK) return error(s, "delete");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectLastSubjectSeq = revision;
    jsErrCode code{};
    s = js_PublishMsg(nullptr, js.get(), raw, &po, &code);
    if (s == NATS_OK) return Written::kDone;
    if (code == JSStreamWrongLastSequenceErr) {
      conflicts.fetch_add(1, std::memory_order_relaxed);
      return Written::kConflict;
    }
    return error(s, "delete");
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
    return make_error(ErrorCode::kUnavailable,
                      "storage of " + std::string(space) + ": gave up after " +
                          std::to_string(kMaxAttempts) +
                          " attempts that conflicted with concurrent writers (" + where() + ")");
  }

  // Adds a delta to the usage entry (compare-and-set, retried on conflicts). Used to lower it
  // after a value write and to take back a reservation whose value write lost a conflict.
  Status adjust_usage(std::string_view space, const std::string& key, std::int64_t bytes,
                      std::int64_t keys) {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (attempt > 0) backoff(attempt);
      auto used = read_usage(key);
      if (!used) return std::move(used).error();
      if (used->revision == 0 && bytes <= 0 && keys <= 0) return ok();
      const std::string text =
          usage_text({add(used->usage.bytes, bytes), add(used->usage.keys, keys)});
      auto written = put(key, text.data(), text.size(), used->revision);
      if (!written) return std::move(written).error();
      if (*written == Written::kDone) return ok();
    }
    return gave_up(space);
  }

  // Calls `each` with every live entry under `filter` as it is when the call starts: the
  // watcher delivers the last value of each key, then a null entry marks the end of them.
  template <typename F>
  Status watch(const std::string& filter, bool meta_only, F&& each) {
    kvWatchOptions wo;
    kvWatchOptions_Init(&wo);
    wo.IgnoreDeletes = true;
    wo.MetaOnly = meta_only;
    wo.Timeout = options.timeout.count();
    kvWatcher* raw = nullptr;
    natsStatus s = kvStore_Watch(&raw, kv.get(), filter.c_str(), &wo);
    const nats::KvWatcher watcher(raw);
    if (s != NATS_OK) return error(s, "list");
    for (;;) {
      kvEntry* next = nullptr;
      s = kvWatcher_Next(&next, raw, options.timeout.count());
      const nats::KvEntry entry(next);
      if (s != NATS_OK) return error(s, "list");
      if (next == nullptr) return ok();
      each(next);
    }
  }
};

NatsKvBackend::NatsKvBackend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NatsKvBackend::~NatsKvBackend() = default;

Result<std::unique_ptr<NatsKvBackend>> NatsKvBackend::connect(Options options) {
  if (!valid_bucket(options.bucket)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "NATS KV bucket name '" + options.bucket + "' must match [A-Za-z0-9_-]+");
  }
  if (options.timeout.count() <= 0 || options.replicas < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "NATS KV backend needs a positive timeout and at least one replica");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->data_prefix = "$KV." + impl->options.bucket + ".";
  impl->rng.seed(std::random_device{}());
  const Options& cfg = impl->options;

  auto nats_options = nats::client_options(cfg.url, "capsule-kv", cfg.timeout, cfg.reconnect_wait,
                                           /*send_asap=*/true, cfg.user, cfg.password);
  if (!nats_options) return std::move(nats_options).error();
  natsOptions* raw_options = nats_options->get();
  natsConnection* raw_connection = nullptr;
  const natsStatus connected = natsConnection_Connect(&raw_connection, raw_options);
  impl->connection.reset(raw_connection);
  if (connected != NATS_OK) {
    Error e = impl->error(connected, "connect");
    e.code = ErrorCode::kUnavailable;
    return e;
  }

  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = cfg.timeout.count();
  jsCtx* raw_js = nullptr;
  const natsStatus js_status = natsConnection_JetStream(&raw_js, raw_connection, &jo);
  impl->js.reset(raw_js);
  if (js_status != NATS_OK) return impl->error(js_status, "jetstream context");

  // A server without JetStream has no responder on the JetStream API.
  jsAccountInfo* account = nullptr;
  jsErrCode code{};
  const natsStatus info = js_GetAccountInfo(&account, raw_js, nullptr, &code);
  jsAccountInfo_Destroy(account);
  if (info == NATS_NO_RESPONDERS || code == JSNotEnabledErr || code == JSNotEnabledForAccountErr) {
    return make_error(ErrorCode::kUnavailable,
                      "NATS server " + cfg.url +
                          " has no JetStream: start nats-server with -js (and -sd <dir> for "
                          "its store) to keep component storage in NATS KV");
  }
  if (info != NATS_OK) return impl->error(info, "jetstream account info");

  kvStore* raw_kv = nullptr;
  natsStatus bound = js_KeyValue(&raw_kv, raw_js, cfg.bucket.c_str());
  if (bound == NATS_NOT_FOUND) {
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = cfg.bucket.c_str();
    kc.Description = "capsule component storage";
    kc.History = 1;
    kc.StorageType = js_FileStorage;
    kc.Replicas = cfg.replicas;
    // Another host may create it at the same time: creating with the same configuration binds.
    bound = js_CreateKeyValue(&raw_kv, raw_js, &kc);
  }
  impl->kv.reset(raw_kv);
  if (bound != NATS_OK) return impl->error(bound, "bucket");
  return std::make_unique<NatsKvBackend>(std::move(impl));
}

std::size_t NatsKvBackend::max_value_bytes() const {
  return impl_->max_value_bytes();
}

bool NatsKvBackend::connected() const {
  return impl_->connected();
}

std::uint64_t NatsKvBackend::conflicts() const {
  return impl_->conflicts.load(std::memory_order_relaxed);
}

Result<std::optional<Bytes>> NatsKvBackend::get(std::string_view space, std::string_view key) {
  if (Status s = storage::validate_key(key); !s) return std::move(s).error();
  if (Status s = validate_space(space); !s) return std::move(s).error();
  if (Status s = impl_->check_connected(); !s) return std::move(s).error();
  auto entry = impl_->read(data_key(space, key), true);
  if (!entry) return std::move(entry).error();
  if (!entry->exists) return std::optional<Bytes>{};
  return std::optional<Bytes>(std::move(entry->value));
}

Result<bool> NatsKvBackend::exists(std::string_view space, std::string_view key) {
  if (Status s = storage::validate_key(key); !s) return std::move(s).error();
  if (Status s = validate_space(space); !s) return std::move(s).error();
  if (Status s = impl_->check_connected(); !s) return std::move(s).error();
  auto entry = impl_->read(data_key(space, key), false);
  if (!entry) return std::move(entry).error();
  return entry->exists;
}

Status NatsKvBackend::set(std::string_view space, std::string_view key, const Bytes& value,
                          const security::StorageQuota& quota) {
  if (Status s = storage::validate_key(key); !s) return std::move(s).error();
  if (Status s = validate_space(space); !s) return std::move(s).error();
  if (value.size() > storage::kMaxValueBytes) {
    return make_error(ErrorCode::kInvalidArgument, "storage value larger than 4 MiB");
  }
  if (Status s = impl_->check_connected(); !s) return std::move(s).error();
  if (const std::size_t limit = impl_->max_value_bytes(); value.size() > limit) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "storage value of " + std::to_string(value.size()) + " bytes is larger than the " +
            std::to_string(limit) + " bytes the NATS server " + impl_->options.url +
            " accepts (its max_payload of " +
            std::to_string(natsConnection_GetMaxPayload(impl_->connection.get())) + " bytes less " +
            std::to_string(kHeaderRoom) +
            " for headers): raise max_payload in the nats-server configuration (values may "
            "be up to 4 MiB)");
  }
  const std::string dkey = data_key(space, key);
  const std::string ukey = usage_key(space);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0) impl_->backoff(attempt);
    auto old = impl_->read(dkey, false);
    if (!old) return std::move(old).error();
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
      auto reserved = impl_->put(ukey, text.data(), text.size(), used->revision);
      if (!reserved) return std::move(reserved).error();
      if (*reserved == Written::kConflict) continue;
    }
    auto written = impl_->put(dkey, value.data(), value.size(), old->revision);
    // An error leaves an unknown outcome: keep the reservation (over-counting is the safe side).
    if (!written) return std::move(written).error();
    if (*written == Written::kConflict) {
      // The key changed since we read it: the value was not written, take the reservation back.
      if (grows) {
        if (Status s = impl_->adjust_usage(space, ukey, -delta_bytes, -delta_keys); !s) {
          return std::move(s).error();
        }
      }
      continue;
    }
    if (delta_bytes < 0) {
      // The value is written; usage follows. Should this fail, usage over-counts, and the
      // write itself did happen, so it is reported as done.
      static_cast<void>(impl_->adjust_usage(space, ukey, delta_bytes, 0));
    }
    return ok();
  }
  return impl_->gave_up(space);
}

Result<bool> NatsKvBackend::erase(std::string_view space, std::string_view key) {
  if (Status s = storage::validate_key(key); !s) return std::move(s).error();
  if (Status s = validate_space(space); !s) return std::move(s).error();
  if (Status s = impl_->check_connected(); !s) return std::move(s).error();
  const std::string dkey = data_key(space, key);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0) impl_->backoff(attempt);
    auto old = impl_->read(dkey, false);
    if (!old) return std::move(old).error();
    if (!old->exists) return false;
    auto removed = impl_->remove(dkey, old->revision);
    if (!removed) return std::move(removed).error();
    if (*removed == Written::kConflict) continue;
    // Deleted; usage follows (over-counts if this fails, and the delete still happened).
    static_cast<void>(impl_->adjust_usage(space, usage_key(space),
                                          -static_cast<std::int64_t>(key.size() + old->size), -1));
    return true;
  }
  return impl_->gave_up(space);
}

Result<std::vector<std::string>> NatsKvBackend::list_keys(std::string_view space,
                                                          std::string_view prefix) {
  if (Status s = validate_space(space); !s) return std::move(s).error();
  if (Status s = impl_->check_connected(); !s) return std::move(s).error();
  const std::string space_hex = hex(space);
  const std::string wanted = hex(prefix);
  std::vector<std::string> keys;
  const Status watched = impl_->watch(space_hex + ".*", true, [&](kvEntry* e) {
    std::string_view name = kvEntry_Key(e);
    if (name.size() <= space_hex.size()) return;
    name.remove_prefix(space_hex.size() + 1);
    // The hex of a prefix is a prefix of the hex: filter before decoding.
    if (name.compare(0, wanted.size(), wanted) != 0) return;
    if (auto decoded = unhex(name)) keys.push_back(std::move(*decoded));  // not `usage`
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
  const std::string space_hex = hex(space);
  KvUsage total;
  const Status watched = impl_->watch(space_hex + ".*", false, [&](kvEntry* e) {
    std::string_view name = kvEntry_Key(e);
    if (name.size() <= space_hex.size()) return;
    name.remove_prefix(space_hex.size() + 1);
    if (auto decoded = unhex(name)) {
      total.bytes += decoded->size() + static_cast<std::uint64_t>(std::max(0, kvEntry_ValueLen(e)));
      ++total.keys;
    }
  });
  if (!watched) return std::move(watched).error();
  return total;
}

}  // namespace capsule::cluster
