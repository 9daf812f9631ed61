#include "typed_lifecycle.hpp"

#include <string>

#include "wit_values.hpp"

namespace capsule::wasm::typed {
namespace {

capsule_bytes_t bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
capsule_bytes_t bytes_of(const std::vector<std::uint8_t>& v) {
  return {v.data(), v.size()};
}
capsule_id_t id_of(const ComponentId& id) {
  return {bytes_of(id.ns), bytes_of(id.name), bytes_of(id.instance)};
}

}  // namespace

std::optional<Payload> Outcome::payload() const {
  if (raw_.status != 1) return std::nullopt;
  return Payload{raw_.codec, std::vector<std::uint8_t>(raw_.data, raw_.data + raw_.len)};
}

Error Outcome::guest_error() const {
  return Error{wit::error_code_from_tag(raw_.error_tag),
               std::string(reinterpret_cast<const char*>(raw_.data), raw_.len)};
}

bool typecheck(const wasmtime::component::Func& handle_message,
               const wasmtime::component::Func& handle_callback, wasmtime::Store::Context cx) {
  wasmtime_error_t* err =
      capsule_lifecycle_typecheck(handle_message.capi(), handle_callback.capi(), cx.capi());
  if (err == nullptr) return true;
  wasmtime_error_delete(err);
  return false;
}

wasmtime_error_t* handle_message(const wasmtime::component::Func& func, wasmtime::Store::Context cx,
                                 const ComponentMessage& message, Outcome& out) {
  const capsule_message_t m{
      .sender = id_of(message.sender),
      .codec = message.payload.codec,
      .payload = bytes_of(message.payload.bytes),
      .has_correlation = message.correlation.has_value(),
      .correlation = message.correlation.value_or(0),
      .has_topic = message.topic.has_value(),
      .topic = message.topic ? bytes_of(*message.topic) : capsule_bytes_t{nullptr, 0},
  };
  return capsule_lifecycle_handle_message(func.capi(), cx.capi(), &m, out.get());
}

wasmtime_error_t* handle_callback(const wasmtime::component::Func& func,
                                  wasmtime::Store::Context cx, const CallbackResponse& response,
                                  Outcome& out) {
  const Error fallback{ErrorCode::kInternal, "no outcome"};
  const Error& error = response.error ? *response.error : fallback;
  static const std::vector<std::uint8_t> kEmpty;
  const capsule_callback_t c{
      .correlation = response.correlation,
      .responder = id_of(response.responder),
      .is_ok = response.reply.has_value(),
      .codec = response.reply ? response.reply->codec : 0,
      .payload = bytes_of(response.reply ? response.reply->bytes : kEmpty),
      .error_tag = wit::error_tag_of(error.code),
      .error_text = bytes_of(error.message),
  };
  return capsule_lifecycle_handle_callback(func.capi(), cx.capi(), &c, out.get());
}

}  // namespace capsule::wasm::typed
