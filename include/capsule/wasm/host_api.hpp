#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <capsule/core/component_id.hpp>
#include <capsule/core/message.hpp>
#include <capsule/core/result.hpp>
#include <capsule/core/send_batch.hpp>

namespace capsule::wasm {

enum class LogLevel : std::uint8_t { kTrace, kDebug, kInfo, kWarn, kError };

struct StorageUsage {
  std::uint64_t bytes = 0;
  std::uint64_t keys = 0;
  std::uint64_t quota_bytes = 0;
  std::uint64_t quota_keys = 0;
};

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// The guest's WASI output streams (values as the engine's shim numbers them).
enum class GuestStream : std::uint8_t { kStdout = 1, kStderr = 2 };
[[nodiscard]] std::string_view to_string(GuestStream stream) noexcept;
// Longest line of guest output the engine hands over; a longer one arrives cut to its start.
inline constexpr std::size_t kMaxGuestOutputLine = 4096;

[[nodiscard]] std::string_view to_string(LogLevel level) noexcept;
// "[ns/name/0] warn: message k=v k2=v2": the one text form of a guest log line.
[[nodiscard]] std::string format_log_line(const ComponentId& who, LogLevel level,
                                          const std::string& message, const KeyValues& fields);
// One line of guest output as the host logs it: "guest stderr: <line>", control characters
// written out, a cut line saying so. stdout is logged at info, stderr at warn.
[[nodiscard]] std::string format_output_line(GuestStream stream, std::string_view line, bool cut);
[[nodiscard]] LogLevel level_of(GuestStream stream) noexcept;

// The host side of the WIT imports (messaging, services, storage) for one component instance.
// The engine lowers/lifts values and calls these; the component layer implements them with
// capability checks. Errors returned here reach the guest as the WIT `error` variant.
class HostApi {
 public:
  virtual ~HostApi() = default;

  // messaging
  virtual Status send(const ComponentId& target, Payload payload) = 0;
  virtual Result<CorrelationId> request(const ComponentId& target, Payload payload,
                                        std::uint32_t timeout_ms) = 0;
  virtual Status cancel(CorrelationId correlation) = 0;
  virtual Result<std::uint32_t> broadcast(const std::vector<ComponentId>& targets,
                                          Payload payload) = 0;
  virtual Result<std::uint32_t> publish(const std::string& topic, Payload payload) = 0;
  virtual Status subscribe(const std::string& topic) = 0;
  virtual Status unsubscribe(const std::string& topic) = 0;
  [[nodiscard]] virtual ComponentId self_id() const = 0;
  // capsule:core 0.1.1: the request being handled is answered later, by reply(). A host without
  // the component layer has no requests to defer: not-implemented.
  virtual Status defer_reply(CorrelationId /*correlation*/) {
    return make_error(ErrorCode::kNotImplemented, "messaging.defer-reply needs a component host");
  }
  virtual Status reply(CorrelationId /*correlation*/, Result<Payload> outcome) {
    [[maybe_unused]] const Result<Payload> dropped = std::move(outcome);  // nothing to answer
    return make_error(ErrorCode::kNotImplemented, "messaging.reply needs a component host");
  }

  // services
  virtual void log(LogLevel level, const std::string& message, const KeyValues& fields) = 0;
  virtual std::uint64_t monotonic_now_ns() = 0;
  virtual std::uint64_t wall_clock_now_ms() = 0;
  virtual Result<std::vector<ComponentId>> list_components() = 0;
  virtual Result<ComponentMetadata> component_metadata(const ComponentId& id) = 0;

  // The largest payload or storage value this instance may hand over; the engine refuses a
  // larger one with `invalid-argument` before copying it out of the guest's lifted arguments.
  [[nodiscard]] virtual std::uint64_t max_payload_bytes() const { return UINT64_MAX; }

  // Runs work that may block (the storage calls) where it may: the engine calls the storage
  // functions inside `task`, and the guest's call suspends until it has run. Runs `task` exactly
  // once, on any thread; the default runs it at once, on the calling thread.
  virtual void run_blocking(std::function<void()> task) {
    const std::function<void()> run = std::move(task);  // by value: overrides keep it
    run();
  }

  // Whether a send to `target` may wait (a confirmed send to another host): the engine then
  // runs it through run_blocking and the guest's call suspends meanwhile, so no scheduler worker
  // waits on the wire. Default: no.
  [[nodiscard]] virtual bool send_may_wait(const ComponentId& /*target*/) const { return false; }
  // Such a send: `done` runs exactly once, on any thread, with its outcome. Default: send() on
  // run_blocking.
  virtual void send_later(const ComponentId& target, Payload payload,
                          std::function<void(Status)> done) {
    run_blocking([this, target, payload = std::move(payload), done = std::move(done)]() mutable {
      done(send(target, std::move(payload)));
    });
  }

  // capsule:core 0.1.2 `messaging.send-batch`: each message sent as send() would send it alone,
  // except that none waits for room in a full `block` mailbox (refused as full); `done` runs
  // exactly once, on any thread, with one outcome per message (or one error for the whole batch)
  // once every message has its outcome. Default: send() each, in order, on this thread.
  virtual void send_batch(std::vector<OutgoingMessage> messages, BatchDone done);

  // capsule:core 0.1.3 `messaging.call`: a request whose outcome (the reply's payload, or the
  // error that ended it) `done` gets exactly once, on any thread, while the guest's call waits
  // suspended. Default: not-implemented, which is what an actor's instance answers (it never
  // holds its turn waiting; it has request and handle-callback).
  using CallDone = std::function<void(Result<Payload>)>;
  virtual void call(const ComponentId& target, Payload payload, std::uint32_t timeout_ms,
                    CallDone done);

  // Whether the guest may read WASI random (wasi:random, secure or insecure); asked per call.
  [[nodiscard]] virtual bool random_allowed() { return true; }

  // One line the guest wrote to stdout or stderr (its newline removed; raw bytes, maybe not
  // UTF-8). `cut`: the line was longer than kMaxGuestOutputLine and this is its start.
  virtual void output(GuestStream stream, std::string_view line, bool cut) = 0;

  // storage
  virtual Result<std::optional<std::vector<std::uint8_t>>> storage_get(const std::string& key) = 0;
  virtual Status storage_set(const std::string& key, std::vector<std::uint8_t> value) = 0;
  virtual Result<bool> storage_delete(const std::string& key) = 0;
  virtual Result<bool> storage_exists(const std::string& key) = 0;
  virtual Result<std::vector<std::string>> storage_list_keys(const std::string& prefix) = 0;
  virtual Result<StorageUsage> storage_usage() = 0;
  // wasi:keyvalue atomics.increment: adds `delta` to the unsigned decimal number stored at `key`
  // (absent: 0) in one atomic step of the backend and returns the sum. Same checks as
  // storage_set. Default: not-implemented.
  virtual Result<std::uint64_t> storage_increment(const std::string& key, std::uint64_t delta);

  // wasi:config: the instance's config (what its init receives). Default: none.
  [[nodiscard]] virtual KeyValues config() const { return {}; }
};

// A HostApi for an instance with no host wiring yet: clocks and self-id work, logging goes to
// stderr, everything that needs the component layer returns `not-implemented` naming the call.
class StandaloneHostApi : public HostApi {
 public:
  explicit StandaloneHostApi(ComponentId self) : self_(std::move(self)) {}

  Status send(const ComponentId& target, Payload payload) override;
  Result<CorrelationId> request(const ComponentId& target, Payload payload,
                                std::uint32_t timeout_ms) override;
  Status cancel(CorrelationId correlation) override;
  Result<std::uint32_t> broadcast(const std::vector<ComponentId>& targets,
                                  Payload payload) override;
  Result<std::uint32_t> publish(const std::string& topic, Payload payload) override;
  Status subscribe(const std::string& topic) override;
  Status unsubscribe(const std::string& topic) override;
  [[nodiscard]] ComponentId self_id() const override { return self_; }

  void log(LogLevel level, const std::string& message, const KeyValues& fields) override;
  // Written to stderr like log(): "[ns/name/0] info: guest stdout: <line>".
  void output(GuestStream stream, std::string_view line, bool cut) override;
  std::uint64_t monotonic_now_ns() override;
  std::uint64_t wall_clock_now_ms() override;
  Result<std::vector<ComponentId>> list_components() override;
  Result<ComponentMetadata> component_metadata(const ComponentId& id) override;

  Result<std::optional<std::vector<std::uint8_t>>> storage_get(const std::string& key) override;
  Status storage_set(const std::string& key, std::vector<std::uint8_t> value) override;
  Result<bool> storage_delete(const std::string& key) override;
  Result<bool> storage_exists(const std::string& key) override;
  Result<std::vector<std::string>> storage_list_keys(const std::string& prefix) override;
  Result<StorageUsage> storage_usage() override;

 private:
  [[nodiscard]] Error unavailable(std::string_view what) const;
  ComponentId self_;
};

}  // namespace capsule::wasm
