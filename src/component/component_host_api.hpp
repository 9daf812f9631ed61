#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include <capsule/component/component_runtime.hpp>
#include <capsule/wasm/host_api.hpp>

#include "deferred_replies.hpp"
#include "guest_quotas.hpp"

namespace capsule::host {

// The host functions of one component instance, routed through the ComponentRuntime. Each one
// asks the runtime's AccessGuard first (messaging does so inside the runtime, so host-routed
// calls are checked the same way); a denial reaches the guest as `permission-denied` and is
// audited. Storage goes to the runtime's KvBackend, in the space "ns/name" of this component.
class ComponentHostApi final : public wasm::StandaloneHostApi,
                               public std::enable_shared_from_this<ComponentHostApi> {
 public:
  ComponentHostApi(component::ComponentRuntime& runtime, ComponentId self,
                   rt::ActorRef<component::ComponentEnvelope> self_ref,
                   const ResourceLimits& limits,
                   std::shared_ptr<const ServingWindow> serving = nullptr,
                   std::shared_ptr<std::atomic<std::uint32_t>> awaiting = nullptr,
                   std::shared_ptr<component::DeferredReplies> deferred = nullptr,
                   wasm::KeyValues config = {},
                   std::optional<std::uint64_t> name_token = std::nullopt);

  [[nodiscard]] std::uint64_t max_payload_bytes() const override { return max_payload_bytes_; }
  // Storage runs on the runtime's I/O threads, never on a scheduler worker.
  void run_blocking(std::function<void()> task) override;
  // A target on no host here, with a cluster configured: the send may wait for the other
  // host's confirmation.
  [[nodiscard]] bool send_may_wait(const ComponentId& target) const override;
  // Completed by the cluster layer when the other host's acknowledgement arrives.
  void send_later(const ComponentId& target, Payload payload,
                  std::function<void(Status)> done) override;

  // capsule:core 0.1.2: every message checked as send() checks it (payload limit, quota, grants),
  // then the runtime's send_batch; these bindings stay alive until the last outcome.
  void send_batch(std::vector<OutgoingMessage> messages, BatchDone done) override;

  Status send(const ComponentId& target, Payload payload) override;
  Result<CorrelationId> request(const ComponentId& target, Payload payload,
                                std::uint32_t timeout_ms) override;
  // capsule:core 0.1.3: only for an instance without an actor (a wasi:http/proxy route's,
  // detached_instances.cpp), as request() then is not; an actor's gets not-implemented.
  void call(const ComponentId& target, Payload payload, std::uint32_t timeout_ms,
            CallDone done) override;
  Status cancel(CorrelationId correlation) override;
  // capsule:core 0.1.1 deferred replies (DeferredReplies); not-implemented without one.
  Status defer_reply(CorrelationId correlation) override;
  Status reply(CorrelationId correlation, Result<Payload> outcome) override;
  Result<std::uint32_t> broadcast(const std::vector<ComponentId>& targets,
                                  Payload payload) override;
  Result<std::uint32_t> publish(const std::string& topic, Payload payload) override;
  Status subscribe(const std::string& topic) override;
  Status unsubscribe(const std::string& topic) override;
  void log(wasm::LogLevel level, const std::string& message,
           const wasm::KeyValues& fields) override;
  bool random_allowed() override;
  // Guest stdout/stderr: checked and rate-limited as a log line at its level (info / warn),
  // sharing the component's log quota, so printing cannot flood the host log either.
  void output(wasm::GuestStream stream, std::string_view line, bool cut) override;
  std::uint64_t monotonic_now_ns() override;
  std::uint64_t wall_clock_now_ms() override;
  Result<std::vector<ComponentId>> list_components() override;
  Result<ComponentMetadata> component_metadata(const ComponentId& id) override;

  Result<std::optional<std::vector<std::uint8_t>>> storage_get(const std::string& key) override;
  Status storage_set(const std::string& key, std::vector<std::uint8_t> value) override;
  Result<bool> storage_delete(const std::string& key) override;
  Result<bool> storage_exists(const std::string& key) override;
  Result<std::vector<std::string>> storage_list_keys(const std::string& prefix) override;
  Result<wasm::StorageUsage> storage_usage() override;
  // wasi:keyvalue atomics: a read and a write of the key, so both permissions are asked; the
  // write goes through the backend's atomic update_if under the quota and serving window.
  Result<std::uint64_t> storage_increment(const std::string& key, std::uint64_t delta) override;
  // wasi:config: the manifest config this instance's init received.
  [[nodiscard]] wasm::KeyValues config() const override { return config_; }

 private:
  Status authorize(security::Action action, std::string_view target) const;
  // The backend, or the error a guest gets when the host has none.
  Result<storage::KvBackend*> backend(std::string_view call) const;

  std::string space_;  // "ns/name": shared by every instance of this component
  component::ComponentRuntime& runtime_;
  rt::ActorRef<component::ComponentEnvelope> self_ref_;
  std::uint64_t max_payload_bytes_;
  std::chrono::milliseconds wall_time_;  // of one guest call; 0: none (bounds a call's wait)
  // Shared with the callbacks of this instance's requests, which give their slot back.
  std::shared_ptr<GuestQuotaGate> quotas_;
  std::shared_ptr<const ServingWindow> serving_;  // null: always served
  // Counts this instance's requests still awaiting their outcome (InstancePlan::awaiting).
  std::shared_ptr<std::atomic<std::uint32_t>> awaiting_;
  // The requests this instance answers later; shared with its actor, which fails what is left.
  std::shared_ptr<component::DeferredReplies> deferred_;
  wasm::KeyValues config_;
  // Set for an activation of an on-demand component: the token of the claim it was activated
  // under (0: none), checked against its name's fence. Unset: the serving window's token.
  std::optional<std::uint64_t> name_token_;
  // kUnavailable naming `call` while the serving window is closed (ComponentSpec::serving).
  [[nodiscard]] Status check_serving(std::string_view call) const;
  // The error of a call an instance without a mailbox cannot make (its outcome would come to
  // a mailbox), or ok for an actor's instance.
  [[nodiscard]] Status needs_mailbox(std::string_view call, std::string_view instead) const;
  // check_serving(call) before each step of a storage write, with the writer's fencing token:
  // an activation's claim token on its name's fence, else the window's (a failover unit's lease).
  [[nodiscard]] storage::KvBackend::WritePermit permit(std::string_view call) const;
};

}  // namespace capsule::host
