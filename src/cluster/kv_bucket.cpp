#include "kv_bucket.hpp"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <utility>

namespace capsule::cluster {
namespace {

constexpr std::string_view kConflictText = "wrong last sequence";

std::string last_error_text() {
  const char* text = nats_GetLastError(nullptr);
  return text != nullptr ? std::string(text) : std::string();
}

bool valid_bucket(std::string_view bucket) {
  return !bucket.empty() && std::all_of(bucket.begin(), bucket.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The bucket's stream, shaped as cnats' js_CreateKeyValue makes one (subjects $KV.<bucket>.>,
// one value per key, roll-ups, no deletes of messages, discard new), except for direct gets: a
// replicated bucket has none. Any replica answers a direct get, and one that has not applied
// the latest acknowledged write yet answers with the value before it: on three servers with
// direct gets, the ledger of `fault_test.py --nats-cluster 3 --seed 3` read its balance, added
// one and wrote it back, and ten pairs of acknowledged adds of one owner returned the same
// balance (lost updates). Without direct gets, reads go to the stream's leader, which
// acknowledged the write (docs/cluster.md, "Replicated JetStream").
natsStatus create_stream(jsCtx* js, const KvBucket::Options& cfg, const std::string& stream) {
  const std::string subject = "$KV." + cfg.bucket + ".>";
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = stream.c_str();
  sc.Description = cfg.description.c_str();
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.MaxMsgsPerSubject = 1;
  sc.Storage = js_FileStorage;
  sc.Replicas = cfg.replicas;
  sc.AllowRollup = true;
  sc.DenyDelete = true;
  sc.AllowDirect = cfg.replicas == 1;
  sc.Discard = js_DiscardNew;
  jsStreamInfo* made = nullptr;
  jsErrCode code{};
  const natsStatus s = js_AddStream(&made, js, &sc, nullptr, &code);
  jsStreamInfo_Destroy(made);
  return s;
}

}  // namespace

std::string hex_token(std::string_view bytes) {
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

std::optional<std::string> unhex_token(std::string_view text) {
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

KvBucket::~KvBucket() = default;

std::string KvBucket::where() const {
  return "bucket " + options_.bucket + " at " + options_.url;
}

Error KvBucket::error(natsStatus s, std::string_view what) const {
  const std::string detail = last_error_text();
  std::string message =
      "NATS KV " + std::string(what) + " (" + where() + "): " + natsStatus_GetText(s);
  if (!detail.empty() && detail != natsStatus_GetText(s)) message += " (" + detail + ")";
  message += nats::tls_hint(s);
  const bool unavailable = s == NATS_NO_SERVER || s == NATS_CONNECTION_CLOSED ||
                           s == NATS_CONNECTION_DISCONNECTED || s == NATS_STALE_CONNECTION ||
                           s == NATS_IO_ERROR || s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS ||
                           s == NATS_NOT_YET_CONNECTED ||
                           (s == NATS_ERR && detail.find("unavailable") != std::string::npos);
  return make_error(unavailable ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                    std::move(message));
}

bool KvBucket::connected() const {
  return natsConnection_Status(connection_.get()) == NATS_CONN_STATUS_CONNECTED;
}

std::string KvBucket::connected_url() const {
  std::array<char, 256> url{};
  if (natsConnection_GetConnectedUrl(connection_.get(), url.data(), url.size()) != NATS_OK) {
    return {};
  }
  return url.data();
}

Status KvBucket::check_connected(std::string_view what) const {
  if (connected()) return ok();
  return make_error(ErrorCode::kUnavailable,
                    std::string(what) + " unavailable: NATS server " + options_.url +
                        " is not reachable (the client keeps reconnecting)");
}

std::int64_t KvBucket::max_payload() const {
  return natsConnection_GetMaxPayload(connection_.get());
}

Result<KvBucket::Entry> KvBucket::read(const std::string& key, bool with_value) const {
  kvEntry* raw = nullptr;
  const natsStatus s = kvStore_Get(&raw, kv_.get(), key.c_str());
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

Result<KvBucket::Put> KvBucket::put(const std::string& key, const void* data, std::size_t size,
                                    std::uint64_t revision) {
  // An empty vector may have a null data(); cnats wants a pointer.
  const void* bytes = size == 0 ? static_cast<const void*>("") : data;
  const int len = static_cast<int>(size);
  std::uint64_t written = 0;
  const natsStatus s = revision != 0
                           ? kvStore_Update(&written, kv_.get(), key.c_str(), bytes, len, revision)
                           : kvStore_Create(&written, kv_.get(), key.c_str(), bytes, len);
  if (s == NATS_OK) return Put{Written::kDone, written};
  if (s == NATS_ERR && last_error_text().find(kConflictText) != std::string::npos) {
    conflicts_.fetch_add(1, std::memory_order_relaxed);
    return Put{Written::kConflict, 0};
  }
  return error(s, "write");
}

Result<KvBucket::Written> KvBucket::remove(const std::string& key, std::uint64_t revision) {
  auto removed = publish(key, nullptr, 0, revision, nullptr);
  if (!removed) return std::move(removed).error();
  return removed->written;
}

Result<KvBucket::Put> KvBucket::put(const std::string& key, const void* data, std::size_t size,
                                    const Expect& expect) {
  return publish(key, size == 0 ? static_cast<const void*>("") : data, size, 0, &expect);
}

Result<KvBucket::Put> KvBucket::remove(const std::string& key, const Expect& expect) {
  return publish(key, nullptr, 0, 0, &expect);
}

Result<KvBucket::Put> KvBucket::publish(const std::string& key, const void* data, std::size_t size,
                                        std::uint64_t revision, const Expect* expect) {
  // kvStore_Delete has no revision check, and kvStore_Update none over a pattern, so this
  // publishes on the key's subject itself, with the headers kvStore_* would set (KV-Operation:
  // DEL for a delete marker) and the expectation.
  const bool erase = data == nullptr;
  const std::string subject = subject_prefix_ + key;
  natsMsg* raw = nullptr;
  natsStatus s =
      natsMsg_Create(&raw, subject.c_str(), nullptr,
                     erase ? nullptr : static_cast<const char*>(data), static_cast<int>(size));
  const nats::Message msg(raw);
  if (s == NATS_OK && erase) s = natsMsgHeader_Set(raw, "KV-Operation", "DEL");
  jsPubOptions po;
  jsPubOptions_Init(&po);
  if (expect != nullptr) {
    const std::string last = std::to_string(expect->last);
    const std::string over = subject_prefix_ + expect->filter;
    if (s == NATS_OK)
      s = natsMsgHeader_Set(raw, "Nats-Expected-Last-Subject-Sequence", last.c_str());
    if (s == NATS_OK) {
      s = natsMsgHeader_Set(raw, "Nats-Expected-Last-Subject-Sequence-Subject", over.c_str());
    }
  } else {
    po.ExpectLastSubjectSeq = revision;
  }
  const char* what = erase ? "delete" : "write";
  if (s != NATS_OK) return error(s, what);
  jsPubAck* ack = nullptr;
  jsErrCode code{};
  s = js_PublishMsg(&ack, js_.get(), raw, &po, &code);
  const std::uint64_t sequence = ack != nullptr ? ack->Sequence : 0;
  jsPubAck_Destroy(ack);
  if (s == NATS_OK) return Put{Written::kDone, sequence};
  if (code == JSStreamWrongLastSequenceErr) {
    conflicts_.fetch_add(1, std::memory_order_relaxed);
    return Put{Written::kConflict, 0};
  }
  return error(s, what);
}

Result<std::uint64_t> KvBucket::last_revision(const std::string& filter) const {
  const std::string subject = subject_prefix_ + filter;
  natsMsg* raw = nullptr;
  natsStatus s = NATS_NO_RESPONDERS;
  if (direct_) {
    jsDirectGetMsgOptions o;
    jsDirectGetMsgOptions_Init(&o);
    o.LastBySubject = subject.c_str();
    s = js_DirectGetMsg(&raw, js_.get(), stream_.c_str(), nullptr, &o);
  }
  if (s == NATS_NO_RESPONDERS) {
    // A bucket without direct gets (a replicated one): its leader answers.
    jsErrCode code{};
    s = js_GetLastMsg(&raw, js_.get(), stream_.c_str(), subject.c_str(), nullptr, &code);
  }
  const nats::Message msg(raw);
  if (s == NATS_NOT_FOUND) return std::uint64_t{0};
  if (s != NATS_OK) return error(s, "get");
  return natsMsg_GetSequence(raw);
}

std::uint64_t KvBucket::reconnects() const {
  natsStatistics* raw = nullptr;
  if (natsStatistics_Create(&raw) != NATS_OK) return 0;
  std::uint64_t count = 0;
  if (natsConnection_GetStats(connection_.get(), raw) == NATS_OK) {
    static_cast<void>(natsStatistics_GetCounts(raw, nullptr, nullptr, nullptr, nullptr, &count));
  }
  natsStatistics_Destroy(raw);
  return count;
}

void KvBucket::read_api_level() const {
  // cnats 3.4 keeps the server's INFO (and its version) to itself; the JetStream account info
  // says "api":{"level":N} from nats-server 2.11 on (ADR-44: 1 = 2.11), and nothing before.
  level_read_at_.store(reconnects(), std::memory_order_relaxed);
  int level = 0;
  natsMsg* raw = nullptr;
  const natsStatus s = natsConnection_RequestString(&raw, connection_.get(), "$JS.API.INFO", "",
                                                    options_.timeout.count());
  const nats::Message reply(raw);
  if (s == NATS_OK) {
    const auto info = nlohmann::json::parse(
        natsMsg_GetData(raw), natsMsg_GetData(raw) + natsMsg_GetDataLength(raw), nullptr, false);
    const nlohmann::json::json_pointer at("/api/level");
    if (!info.is_discarded() && info.contains(at) && info.at(at).is_number_integer()) {
      level = info.at(at).get<int>();
    }
  }
  api_level_.store(level, std::memory_order_relaxed);
}

bool KvBucket::server_checks_filters() const {
  if (reconnects() != level_read_at_.load(std::memory_order_relaxed)) read_api_level();
  return api_level() >= 1;
}

Status KvBucket::watch_start(const std::string& filter, bool meta_only,
                             nats::KvWatcher& watcher) const {
  kvWatchOptions wo;
  kvWatchOptions_Init(&wo);
  wo.IgnoreDeletes = true;
  wo.MetaOnly = meta_only;
  wo.Timeout = options_.timeout.count();
  kvWatcher* raw = nullptr;
  const natsStatus s = kvStore_Watch(&raw, kv_.get(), filter.c_str(), &wo);
  watcher.reset(raw);
  if (s != NATS_OK) return error(s, "list");
  return ok();
}

Result<std::unique_ptr<KvBucket>> KvBucket::open(Options options, std::string_view purpose) {
  if (!valid_bucket(options.bucket)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "NATS KV bucket name '" + options.bucket + "' must match [A-Za-z0-9_-]+");
  }
  if (options.timeout.count() <= 0 || options.replicas < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a NATS KV bucket needs a positive timeout and at least one replica");
  }
  auto bucket = std::make_unique<KvBucket>();
  bucket->options_ = std::move(options);
  bucket->subject_prefix_ = "$KV." + bucket->options_.bucket + ".";
  bucket->stream_ = "KV_" + bucket->options_.bucket;
  const Options& cfg = bucket->options_;

  auto nats_options =
      nats::client_options(cfg.url, cfg.client_name, cfg.timeout, cfg.reconnect_wait,
                           /*send_asap=*/true, cfg.user, cfg.password, cfg.tls);
  if (!nats_options) return std::move(nats_options).error();
  natsConnection* raw_connection = nullptr;
  const natsStatus connected = natsConnection_Connect(&raw_connection, nats_options->get());
  bucket->connection_.reset(raw_connection);
  if (connected != NATS_OK) {
    Error e = bucket->error(connected, "connect");
    e.code = ErrorCode::kUnavailable;
    return e;
  }

  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = cfg.timeout.count();
  jsCtx* raw_js = nullptr;
  const natsStatus js_status = natsConnection_JetStream(&raw_js, raw_connection, &jo);
  bucket->js_.reset(raw_js);
  if (js_status != NATS_OK) return bucket->error(js_status, "jetstream context");

  // A server without JetStream has no responder on the JetStream API. A JetStream cluster that
  // is electing its meta leader (a server just died) answers nothing for a few seconds: a host
  // starting then waits for it, up to `startup_wait`, rather than fail to start.
  // So does binding the bucket while its stream elects a leader.
  const auto until = std::chrono::steady_clock::now() + cfg.startup_wait;
  const auto waiting = [&until](natsStatus s) {
    return s == NATS_TIMEOUT && std::chrono::steady_clock::now() < until;
  };
  jsErrCode code{};
  natsStatus info = NATS_TIMEOUT;
  do {
    jsAccountInfo* account = nullptr;
    code = {};
    info = js_GetAccountInfo(&account, raw_js, nullptr, &code);
    jsAccountInfo_Destroy(account);
  } while (waiting(info));
  if (info == NATS_NO_RESPONDERS || code == JSNotEnabledErr || code == JSNotEnabledForAccountErr) {
    return make_error(ErrorCode::kUnavailable,
                      "NATS server " + cfg.url +
                          " has no JetStream: start nats-server with -js (and -sd <dir> for "
                          "its store) to " +
                          std::string(purpose));
  }
  if (info != NATS_OK) return bucket->error(info, "jetstream account info");

  kvStore* raw_kv = nullptr;
  natsStatus bound = NATS_TIMEOUT;
  do {
    bound = js_KeyValue(&raw_kv, raw_js, cfg.bucket.c_str());
    if (bound == NATS_NOT_FOUND) {
      // Another host may create it at the same time: creating with the same configuration binds.
      bound = create_stream(raw_js, cfg, bucket->stream_);
      if (bound == NATS_OK) bound = js_KeyValue(&raw_kv, raw_js, cfg.bucket.c_str());
    }
  } while (waiting(bound));
  bucket->kv_.reset(raw_kv);
  if (bound != NATS_OK) return bucket->error(bound, "bucket");
  jsStreamInfo* stream = nullptr;
  if (js_GetStreamInfo(&stream, raw_js, bucket->stream_.c_str(), nullptr, &code) == NATS_OK &&
      stream->Config != nullptr) {
    bucket->replicas_ = static_cast<int>(stream->Config->Replicas);
    bucket->direct_ = stream->Config->AllowDirect;
  }
  jsStreamInfo_Destroy(stream);
  bucket->read_api_level();
  return bucket;
}

}  // namespace capsule::cluster
