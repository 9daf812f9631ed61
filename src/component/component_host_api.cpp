#include "component_host_api.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include <capsule/core/text.hpp>
#include <capsule/storage/kv_backend.hpp>

namespace capsule::host {

using component::ComponentEnvelope;

ComponentHostApi::ComponentHostApi(component::ComponentRuntime& runtime, ComponentId self,
                                   rt::ActorRef<ComponentEnvelope> self_ref,
                                   const ResourceLimits& limits,
                                   std::shared_ptr<const ServingWindow> serving,
                                   std::shared_ptr<std::atomic<std::uint32_t>> awaiting,
                                   std::shared_ptr<component::DeferredReplies> deferred,
                                   wasm::KeyValues config, std::optional<std::uint64_t> name_token)
    : StandaloneHostApi(std::move(self)),
      space_(self_id().ns + "/" + self_id().name),
      runtime_(runtime),
      self_ref_(std::move(self_ref)),
      max_payload_bytes_(runtime.max_payload_bytes(limits)),
      wall_time_(limits.wall_time_per_call),
      quotas_(runtime.quota_gate(self_id(), limits)),
      serving_(std::move(serving)),
      awaiting_(std::move(awaiting)),
      deferred_(std::move(deferred)),
      config_(std::move(config)),
      name_token_(name_token) {}

Status ComponentHostApi::check_serving(std::string_view call) const {
  // Storage calls run on the I/O threads: this is checked right before the write leaves, so a
  // host paused between the guest's call and the write finds its window closed when it wakes.
  if (!serving_ || serving_->is_open()) return ok();
  return make_error(ErrorCode::kUnavailable,
                    std::string(call) + " refused: " + self_id().to_string() +
                        " is not served here now (this host's lease on it lapsed or went to "
                        "another host)");
}

storage::KvBackend::WritePermit ComponentHostApi::permit(std::string_view call) const {
  // The token goes with the write: a backend whose server can check it refuses the write once a
  // newer holder fenced the space (a failover unit) or the name (an activation), even if this
  // host froze after its own check.
  auto check = [this, call] { return check_serving(call); };
  if (!name_token_) return {check, serving_ ? serving_->token() : 0};
  storage::KvBackend::WritePermit p(check, *name_token_, self_id().instance);
  // Refused for good: another host claimed the name since. The activation must not go on with
  // the state it holds (ComponentRuntime::name_fenced deactivates it).
  p.when_fenced([this](const Error& why) { runtime_.name_fenced(self_id(), why); });
  return p;
}

void ComponentHostApi::run_blocking(std::function<void()> task) {
  // The task may outlive the instance that asked (its call dropped at a wall-time limit): it
  // keeps these host bindings, and so the runtime's I/O pool keeps the runtime, alive.
  runtime_.run_io([self = shared_from_this(), task = std::move(task)] { task(); });
}

bool ComponentHostApi::send_may_wait(const ComponentId& target) const {
  return runtime_.remote_sends_wait() && !runtime_.registry().contains(target);
}

void ComponentHostApi::send_later(const ComponentId& target, Payload payload,
                                  std::function<void(Status)> done) {
  if (Status s = quotas_->admit_messages(self_id(), 1, security::Action::kSend); !s) {
    return done(s);
  }
  // The outcome may come after the instance is gone (its call dropped at a wall-time limit):
  // these host bindings, and so the runtime, stay alive until it does.
  // Called from the guest's own call (a host call of its turn): the runtime may hold a send for
  // another host until the turn ends (ComponentActor::drive calls end_turn).
  runtime_.send_later(
      self_id(), target, std::move(payload),
      [self = shared_from_this(), done = std::move(done)](Status s) { done(std::move(s)); },
      /*in_turn=*/true);
}

void ComponentHostApi::send_batch(std::vector<OutgoingMessage> messages, BatchDone done) {
  if (messages.size() > kMaxSendBatch) {
    return done(batch_too_large(messages.size(), self_id().to_string()));
  }
  // The checks a send alone passes in the engine and here; what fails them gets its error at its
  // index and the rest go on, in order.
  std::vector<Status> outcomes(messages.size());
  std::vector<std::size_t> where;
  std::vector<OutgoingMessage> admitted;
  where.reserve(messages.size());
  admitted.reserve(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto& m = messages[i];
    if (m.payload.bytes.size() > max_payload_bytes_) {
      outcomes[i] = make_error(
          ErrorCode::kInvalidArgument,
          payload_too_large(m.payload.bytes.size(), max_payload_bytes_, self_id().to_string()));
    } else if (Status s = quotas_->admit_messages(self_id(), 1, security::Action::kSend); !s) {
      outcomes[i] = std::move(s);
    } else {
      where.push_back(i);
      admitted.push_back(std::move(m));
    }
  }
  if (admitted.empty()) return done(std::move(outcomes));
  // The outcomes may come after the instance is gone (its call dropped at a wall-time limit):
  // these host bindings, and so the runtime, stay alive until they do.
  runtime_.send_batch(
      self_id(), std::move(admitted),
      [self = shared_from_this(), outcomes = std::move(outcomes), where = std::move(where),
       done = std::move(done)](BatchOutcome sent) mutable {
        if (!sent) return done(std::move(sent));
        for (std::size_t k = 0; k < where.size() && k < sent->size(); ++k) {
          outcomes[where[k]] = std::move((*sent)[k]);
        }
        done(std::move(outcomes));
      });
}

Status ComponentHostApi::defer_reply(CorrelationId correlation) {
  if (!deferred_) return StandaloneHostApi::defer_reply(correlation);
  return deferred_->defer(correlation, self_id().to_string(),
                          [this](CorrelationId c) { return runtime_.request_pending(c); });
}

Status ComponentHostApi::reply(CorrelationId correlation, Result<Payload> outcome) {
  if (!deferred_) return StandaloneHostApi::reply(correlation, std::move(outcome));
  if (Status s = deferred_->take(correlation, self_id().to_string()); !s) return s;
  Result<std::optional<Payload>> answer =
      outcome ? Result<std::optional<Payload>>(std::optional<Payload>(std::move(*outcome)))
              : Result<std::optional<Payload>>(std::move(outcome).error());
  if (!runtime_.complete_request(correlation, self_id(), std::move(answer))) {
    return make_error(ErrorCode::kTimeout,
                      "messaging.reply(" + std::to_string(correlation) + ") by " +
                          self_id().to_string() +
                          ": the requester stopped waiting (timed out or cancelled); the reply "
                          "was dropped");
  }
  return ok();
}

Status ComponentHostApi::authorize(security::Action action, std::string_view target) const {
  return runtime_.authorize(self_id(), action, target);
}

Status ComponentHostApi::send(const ComponentId& target, Payload payload) {
  if (Status s = quotas_->admit_messages(self_id(), 1, security::Action::kSend); !s) return s;
  if (runtime_.has_remote() && !runtime_.remote_sends_wait() &&
      !runtime_.registry().contains(target)) {
    // For another host, unconfirmed: the outcome is known before send_later returns (the router
    // says so), and the send may be held for the end of this turn, as send_later's would.
    Status outcome = ok();
    runtime_.send_later(
        self_id(), target, std::move(payload), [&outcome](Status s) { outcome = std::move(s); },
        /*in_turn=*/true);
    return outcome;
  }
  return runtime_.send(self_id(), target, std::move(payload));
}

Result<CorrelationId> ComponentHostApi::request(const ComponentId& target, Payload payload,
                                                std::uint32_t timeout_ms) {
  if (timeout_ms == 0) {
    return make_error(ErrorCode::kInvalidArgument, "request timeout-ms must be at least 1");
  }
  if (Status s = needs_mailbox("messaging.request", "messaging.call"); !s) {
    return std::move(s).error();
  }
  if (Status s = quotas_->admit_request(self_id()); !s) return std::move(s).error();
  // The outcome comes back through this instance's own mailbox, to handle-callback.
  auto id = runtime_.request(
      self_id(), target, std::move(payload), std::chrono::milliseconds{timeout_ms},
      [runtime = &runtime_, self = self_ref_, quotas = quotas_](CallbackResponse r) {
        quotas->release_request();
        runtime->deliver_callback(self, std::move(r));
      },
      /*in_turn=*/true);
  if (!id) {
    quotas_->release_request();
  } else if (awaiting_) {
    // The outcome reaches this instance's mailbox only after this handler turn ends.
    awaiting_->fetch_add(1, std::memory_order_acq_rel);
  }
  return id;
}

Status ComponentHostApi::cancel(CorrelationId correlation) {
  return runtime_.cancel(correlation, self_id());
}

Result<std::uint32_t> ComponentHostApi::broadcast(const std::vector<ComponentId>& targets,
                                                  Payload payload) {
  if (Status s = quotas_->admit_broadcast(self_id(), targets.size()); !s)
    return std::move(s).error();
  return runtime_.broadcast(self_id(), targets, payload);
}

Result<std::uint32_t> ComponentHostApi::publish(const std::string& topic, Payload payload) {
  if (Status s = quotas_->admit_messages(self_id(), 1, security::Action::kPublish); !s) {
    return std::move(s).error();
  }
  return runtime_.publish(self_id(), topic, payload);
}

Status ComponentHostApi::subscribe(const std::string& topic) {
  if (Status s = needs_mailbox("messaging.subscribe", "messaging.publish"); !s) return s;
  if (Status s = quotas_->admit_subscription(self_id(), topic); !s) return s;
  Status s = runtime_.subscribe(topic, self_id());
  if (!s && s.error().code != ErrorCode::kAlreadyExists)
    quotas_->release_subscription(self_id(), topic);
  return s;
}

Status ComponentHostApi::unsubscribe(const std::string& topic) {
  Status s = runtime_.unsubscribe(topic, self_id());
  if (s) quotas_->release_subscription(self_id(), topic);
  return s;
}

namespace {

// Log text is the guest's: one line stays one line, and no line is longer than this.
constexpr std::size_t kMaxLogLineBytes = std::size_t{16} * 1024;
constexpr std::size_t kMaxLogFields = 64;

// Cut first (the note counts the guest's own bytes), then escaped (the note has nothing to
// escape).
std::string printable(std::string_view text, std::size_t max_bytes) {
  return escape_controls(cut_utf8_noted(text, max_bytes));
}

// Fields named like the host's own (component, level, ts, msg) are renamed "guest.<name>":
// a guest cannot pass its line off as another component's or the host's.
bool reserved_field(std::string_view key) {
  return key == "component" || key == "level" || key == "ts" || key == "msg" || key == "time";
}

}  // namespace

void ComponentHostApi::log(wasm::LogLevel level, const std::string& message,
                           const wasm::KeyValues& fields) {
  // log has no error result in WIT: a denied line is dropped (and audited).
  if (!authorize(security::Action::kLog, wasm::to_string(level))) return;
  // Counted before anything is copied: a flood of dropped lines costs the host one check each.
  // The count is of the bytes as the guest sent them, up to the cut.
  std::size_t size = std::min(message.size(), kMaxLogLineBytes);
  for (const auto& [k, v] : fields) size += k.size() + v.size();
  auto verdict = quotas_->admit_log(size);
  if (verdict.notice) {
    runtime_.log(component::ComponentRuntime::privileged_caller(), wasm::LogLevel::kWarn,
                 *verdict.notice, {});
  }
  if (!verdict.write) return;
  wasm::KeyValues safe;
  safe.reserve(std::min(fields.size(), kMaxLogFields));
  std::size_t budget = kMaxLogLineBytes;
  for (const auto& [k, v] : fields) {
    if (safe.size() == kMaxLogFields || budget == 0) break;
    std::string key = printable(k, 256);
    if (reserved_field(key)) key.insert(0, "guest.");
    std::string value = printable(v, budget);
    budget -= std::min(budget, key.size() + value.size());
    safe.emplace_back(std::move(key), std::move(value));
  }
  runtime_.guest_log(self_id(), level, printable(message, kMaxLogLineBytes), safe);
}

void ComponentHostApi::output(wasm::GuestStream stream, std::string_view line, bool cut) {
  const wasm::LogLevel level = wasm::level_of(stream);
  if (!authorize(security::Action::kLog, wasm::to_string(level))) return;
  auto verdict = quotas_->admit_log(line.size());
  if (verdict.notice) {
    runtime_.log(component::ComponentRuntime::privileged_caller(), wasm::LogLevel::kWarn,
                 *verdict.notice, {});
  }
  if (!verdict.write) return;
  runtime_.guest_log(self_id(), level, wasm::format_output_line(stream, line, cut), {});
}

bool ComponentHostApi::random_allowed() {
  return static_cast<bool>(authorize(security::Action::kRandom, "wasi"));
}

std::uint64_t ComponentHostApi::monotonic_now_ns() {
  if (!authorize(security::Action::kTime, "monotonic")) return 0;
  return StandaloneHostApi::monotonic_now_ns();
}

std::uint64_t ComponentHostApi::wall_clock_now_ms() {
  if (!authorize(security::Action::kTime, "wall")) return 0;
  return StandaloneHostApi::wall_clock_now_ms();
}

Result<std::vector<ComponentId>> ComponentHostApi::list_components() {
  if (Status s = runtime_.guard().authorize_any(self_id(), security::Action::kListComponents); !s) {
    return std::move(s).error();
  }
  // Only the instances the caller may see: the rest are not even named.
  std::vector<ComponentId> ids;
  for (const auto& info : runtime_.list()) {
    if (runtime_.guard().permits(self_id(), security::Action::kListComponents,
                                 info.id.to_string())) {
      ids.push_back(info.id);
    }
  }
  return ids;
}

Result<ComponentMetadata> ComponentHostApi::component_metadata(const ComponentId& id) {
  if (Status s = authorize(security::Action::kListComponents, id.to_string()); !s) {
    return std::move(s).error();
  }
  auto record = runtime_.registry().record(id);
  if (!record || !record->metadata) {
    return make_error(ErrorCode::kNotFound, "no metadata for " + id.to_string());
  }
  return *record->metadata;
}

Result<storage::KvBackend*> ComponentHostApi::backend(std::string_view call) const {
  storage::KvBackend* kv = runtime_.storage();
  if (kv == nullptr) {
    return make_error(ErrorCode::kNotImplemented, std::string(call) + " is not available to " +
                                                      self_id().to_string() +
                                                      ": this host has no storage configured");
  }
  return kv;
}

Result<std::optional<std::vector<std::uint8_t>>> ComponentHostApi::storage_get(
    const std::string& key) {
  auto kv = backend("storage.get");
  if (!kv) return std::move(kv).error();
  if (Status s = storage::validate_key(key); !s) return std::move(s).error();
  if (Status s = authorize(security::Action::kStorageRead, key); !s) return std::move(s).error();
  return (*kv)->get(space_, key);
}

Status ComponentHostApi::storage_set(const std::string& key, std::vector<std::uint8_t> value) {
  auto kv = backend("storage.set");
  if (!kv) return std::move(kv).error();
  if (Status s = storage::validate_key(key); !s) return s;
  if (Status s = authorize(security::Action::kStorageWrite, key); !s) return s;
  return (*kv)->set_if(space_, key, value,
                       runtime_.guard().storage_quota(self_id().ns, self_id().name),
                       permit("storage.set"));
}

Result<bool> ComponentHostApi::storage_delete(const std::string& key) {
  auto kv = backend("storage.delete");
  if (!kv) return std::move(kv).error();
  if (Status s = storage::validate_key(key); !s) return std::move(s).error();
  if (Status s = authorize(security::Action::kStorageDelete, key); !s) {
    return std::move(s).error();
  }
  return (*kv)->erase_if(space_, key, permit("storage.delete"));
}

Result<bool> ComponentHostApi::storage_exists(const std::string& key) {
  auto kv = backend("storage.exists");
  if (!kv) return std::move(kv).error();
  if (Status s = storage::validate_key(key); !s) return std::move(s).error();
  if (Status s = authorize(security::Action::kStorageRead, key); !s) return std::move(s).error();
  return (*kv)->exists(space_, key);
}

Result<std::vector<std::string>> ComponentHostApi::storage_list_keys(const std::string& prefix) {
  auto kv = backend("storage.list-keys");
  if (!kv) return std::move(kv).error();
  if (Status s = runtime_.guard().authorize_any(self_id(), security::Action::kStorageRead); !s) {
    return std::move(s).error();
  }
  auto keys = (*kv)->list_keys(space_, prefix);
  if (!keys) return keys;
  // A component allowed to read only "public/**" does not learn the names of its other keys.
  std::erase_if(*keys, [&](const std::string& k) {
    return !runtime_.guard().permits(self_id(), security::Action::kStorageRead, k);
  });
  return keys;
}

Result<wasm::StorageUsage> ComponentHostApi::storage_usage() {
  auto kv = backend("storage.usage");
  if (!kv) return std::move(kv).error();
  // Usage is about the component's own quota: any storage permission lets it ask.
  const auto& guard = runtime_.guard();
  if (!guard.permits_any(self_id(), security::Action::kStorageWrite)) {
    if (Status s = guard.authorize_any(self_id(), security::Action::kStorageRead); !s) {
      return std::move(s).error();
    }
  }
  auto used = (*kv)->usage(space_);
  if (!used) return std::move(used).error();
  const auto quota = guard.storage_quota(self_id().ns, self_id().name);
  return wasm::StorageUsage{used->bytes, used->keys, quota.max_bytes, quota.max_keys};
}

namespace {

// The counter format wasi:keyvalue hosts share (Wasmtime's in-memory one, wasmCloud's): the
// number in decimal ASCII, so `get` of a counter reads as text in any language.
Result<std::uint64_t> counter_value(const std::optional<storage::Bytes>& current,
                                    const std::string& key) {
  if (!current) return std::uint64_t{0};
  const std::string_view text(reinterpret_cast<const char*>(current->data()), current->size());
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "increment of '" + key +
                          "': its value is not an unsigned decimal number (a counter is stored "
                          "as its digits)");
  }
  return value;
}

}  // namespace

Result<std::uint64_t> ComponentHostApi::storage_increment(const std::string& key,
                                                          std::uint64_t delta) {
  auto kv = backend("keyvalue.increment");
  if (!kv) return std::move(kv).error();
  if (Status s = storage::validate_key(key); !s) return std::move(s).error();
  if (Status s = authorize(security::Action::kStorageRead, key); !s) return std::move(s).error();
  if (Status s = authorize(security::Action::kStorageWrite, key); !s) return std::move(s).error();
  std::uint64_t sum = 0;
  auto update = [&](const std::optional<storage::Bytes>& current) -> Result<storage::Bytes> {
    auto value = counter_value(current, key);
    if (!value) return std::move(value).error();
    if (delta > UINT64_MAX - *value) {
      return make_error(ErrorCode::kInvalidArgument,
                        "increment of '" + key + "' by " + std::to_string(delta) +
                            " overflows its value " + std::to_string(*value));
    }
    sum = *value + delta;
    const std::string digits = std::to_string(sum);
    return storage::Bytes(digits.begin(), digits.end());
  };
  auto written = (*kv)->update_if(space_, key, update,
                                  runtime_.guard().storage_quota(self_id().ns, self_id().name),
                                  permit("keyvalue.increment"));
  if (!written) return std::move(written).error();
  return sum;
}

}  // namespace capsule::host
