#include <chrono>
#include <cstdio>
#include <string>

#include <capsule/core/text.hpp>
#include <capsule/wasm/host_api.hpp>

namespace capsule::wasm {
namespace {
constexpr std::array<std::string_view, 5> kLevelNames{"trace", "debug", "info", "warn", "error"};
}

std::string_view to_string(LogLevel level) noexcept {
  const auto i = static_cast<std::size_t>(level);
  return i < kLevelNames.size() ? kLevelNames[i] : "info";
}

std::string format_log_line(const ComponentId& who, LogLevel level, const std::string& message,
                            const KeyValues& fields) {
  std::string line = "[";
  line += who.to_string();
  line += "] ";
  line += to_string(level);
  line += ": ";
  line += message;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    line += v;
  }
  return line;
}

std::string_view to_string(GuestStream stream) noexcept {
  return stream == GuestStream::kStderr ? "stderr" : "stdout";
}

LogLevel level_of(GuestStream stream) noexcept {
  return stream == GuestStream::kStderr ? LogLevel::kWarn : LogLevel::kInfo;
}

std::string format_output_line(GuestStream stream, std::string_view line, bool cut) {
  std::string text = "guest ";
  text += to_string(stream);
  text += ": ";
  // The engine cut at a byte count: drop a UTF-8 sequence it split (the note says it was cut).
  text += escape_controls(cut ? cut_utf8(line, line.size()) : line);
  if (cut) {
    text += " ... (line cut at " + std::to_string(kMaxGuestOutputLine) + " bytes)";
  }
  return text;
}

Error StandaloneHostApi::unavailable(std::string_view what) const {
  return make_error(ErrorCode::kNotImplemented,
                    std::string(what) + " is not available to " + self_.to_string() +
                        ": this instance runs without a component host (no messaging or storage)");
}

void HostApi::call(const ComponentId& target, Payload payload, std::uint32_t /*timeout_ms*/,
                   CallDone done) {
  [[maybe_unused]] const Payload dropped = std::move(payload);  // nothing is sent
  const CallDone finish = std::move(done);                      // by value: overrides keep it
  finish(make_error(ErrorCode::kNotImplemented,
                    "messaging.call(" + target.to_string() + ") by " + self_id().to_string() +
                        ": call waits for the reply, which only an instance without a mailbox "
                        "(a wasi:http/proxy route's) may do; an actor uses messaging.request and "
                        "handle-callback, or defer-reply"));
}

void HostApi::send_batch(std::vector<OutgoingMessage> messages, BatchDone done) {
  // By value: overrides keep them until the outcomes are known.
  const std::vector<OutgoingMessage> batch = std::move(messages);
  const BatchDone finish = std::move(done);
  if (batch.size() > kMaxSendBatch) {
    return finish(batch_too_large(batch.size(), self_id().to_string()));
  }
  std::vector<Status> outcomes;
  outcomes.reserve(batch.size());
  for (const auto& m : batch) {
    Status s = send(m.to, m.payload);
    // A batch never waits for room: the guest asked for all outcomes at once.
    if (!s && s.error().code == ErrorCode::kWouldBlock) {
      s = make_error(ErrorCode::kMailboxFull, "mailbox of " + m.to.to_string() +
                                                  " is full (a batched send does not wait "
                                                  "for room; send it alone to wait)");
    }
    outcomes.push_back(std::move(s));
  }
  finish(std::move(outcomes));
}

Status StandaloneHostApi::send(const ComponentId&, Payload) {
  return unavailable("messaging.send");
}
Result<CorrelationId> StandaloneHostApi::request(const ComponentId&, Payload, std::uint32_t) {
  return unavailable("messaging.request");
}
Status StandaloneHostApi::cancel(CorrelationId) {
  return unavailable("messaging.cancel");
}
Result<std::uint32_t> StandaloneHostApi::broadcast(const std::vector<ComponentId>&, Payload) {
  return unavailable("messaging.broadcast");
}
Result<std::uint32_t> StandaloneHostApi::publish(const std::string&, Payload) {
  return unavailable("messaging.publish");
}
Status StandaloneHostApi::subscribe(const std::string&) {
  return unavailable("messaging.subscribe");
}
Status StandaloneHostApi::unsubscribe(const std::string&) {
  return unavailable("messaging.unsubscribe");
}

void StandaloneHostApi::log(LogLevel level, const std::string& message, const KeyValues& fields) {
  std::fprintf(stderr, "%s\n", format_log_line(self_, level, message, fields).c_str());
}

void StandaloneHostApi::output(GuestStream stream, std::string_view line, bool cut) {
  std::fprintf(
      stderr, "%s\n",
      format_log_line(self_, level_of(stream), format_output_line(stream, line, cut), {}).c_str());
}

std::uint64_t StandaloneHostApi::monotonic_now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::uint64_t StandaloneHostApi::wall_clock_now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

Result<std::vector<ComponentId>> StandaloneHostApi::list_components() {
  return unavailable("services.list-components");
}
Result<ComponentMetadata> StandaloneHostApi::component_metadata(const ComponentId&) {
  return unavailable("services.component-metadata");
}
Result<std::optional<std::vector<std::uint8_t>>> StandaloneHostApi::storage_get(
    const std::string&) {
  return unavailable("storage.get");
}
Status StandaloneHostApi::storage_set(const std::string&, std::vector<std::uint8_t>) {
  return unavailable("storage.set");
}
Result<bool> StandaloneHostApi::storage_delete(const std::string&) {
  return unavailable("storage.delete");
}
Result<bool> StandaloneHostApi::storage_exists(const std::string&) {
  return unavailable("storage.exists");
}
Result<std::vector<std::string>> StandaloneHostApi::storage_list_keys(const std::string&) {
  return unavailable("storage.list-keys");
}
Result<StorageUsage> StandaloneHostApi::storage_usage() {
  return unavailable("storage.usage");
}

Result<std::uint64_t> HostApi::storage_increment(const std::string& /*key*/,
                                                 std::uint64_t /*delta*/) {
  return make_error(ErrorCode::kNotImplemented,
                    "keyvalue increment is not available to " + self_id().to_string() +
                        ": this instance runs without a component host (no storage)");
}

}  // namespace capsule::wasm
