#include "wit_values.hpp"

#include <array>
#include <string>
#include <utility>

namespace capsule::wasm::wit {
namespace {

using wasmtime::component::List;
using wasmtime::component::Record;
using wasmtime::component::Tuple;
using wasmtime::component::Variant;
using wasmtime::component::WitOption;
using wasmtime::component::WitResult;

constexpr std::array<std::pair<ErrorCode, std::string_view>, 9> kErrorCases{{
    {ErrorCode::kInvalidArgument, "invalid-argument"},
    {ErrorCode::kNotFound, "not-found"},
    {ErrorCode::kPermissionDenied, "permission-denied"},
    {ErrorCode::kQuotaExceeded, "quota-exceeded"},
    {ErrorCode::kTimeout, "timeout"},
    {ErrorCode::kCancelled, "cancelled"},
    {ErrorCode::kUnavailable, "unavailable"},
    {ErrorCode::kNotImplemented, "not-implemented"},
    {ErrorCode::kInternal, "internal"},
}};

Error type_error(std::string_view what) {
  return make_error(ErrorCode::kInvalidArgument, "malformed " + std::string(what) + " value");
}

Result<std::string> string_field(const Val& record, std::string_view name) {
  const Val* f = field(record, name);
  if (f == nullptr || !f->is_string()) return type_error(name);
  return std::string(f->get_string());
}

}  // namespace

std::uint8_t error_tag_of(ErrorCode code) noexcept {
  for (std::size_t i = 0; i < kErrorCases.size(); ++i) {
    if (kErrorCases[i].first == code) return static_cast<std::uint8_t>(i);
  }
  return static_cast<std::uint8_t>(kErrorCases.size() - 1);  // internal
}

ErrorCode error_code_from_tag(std::uint8_t tag) noexcept {
  return tag < kErrorCases.size() ? kErrorCases[tag].first : ErrorCode::kInternal;
}

const Val* field(const Val& record, std::string_view name) {
  if (!record.is_record()) return nullptr;
  for (const auto& f : record.get_record()) {
    if (f.name() == name) return &f.value();
  }
  return nullptr;
}

Val bytes_to_val(std::span<const std::uint8_t> bytes) {
  // Filling the C list in place avoids building and then moving a vector of Val per byte.
  wasmtime_component_val_t raw{};
  raw.kind = WASMTIME_COMPONENT_LIST;
  wasmtime_component_vallist_new_uninit(&raw.of.list, bytes.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    raw.of.list.data[i].kind = WASMTIME_COMPONENT_U8;
    raw.of.list.data[i].of.u8 = bytes[i];
  }
  return Val(std::move(raw));  // NOLINT(performance-move-const-arg): Val only takes an rvalue
}

Result<std::vector<std::uint8_t>> val_to_bytes(const Val& v) {
  if (!v.is_list()) return type_error("list<u8>");
  const auto* raw = v.capi();
  std::vector<std::uint8_t> out(raw->of.list.size);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto& item = raw->of.list.data[i];
    if (item.kind != WASMTIME_COMPONENT_U8) return type_error("list<u8>");
    out[i] = item.of.u8;
  }
  return out;
}

Val component_id_to_val(const ComponentId& id) {
  return Val(Record({{"namespace", Val::string(id.ns)},
                     {"name", Val::string(id.name)},
                     {"instance", Val::string(id.instance)}}));
}

Result<ComponentId> val_to_component_id(const Val& v) {
  auto ns = string_field(v, "namespace");
  auto name = string_field(v, "name");
  auto instance = string_field(v, "instance");
  if (!ns || !name || !instance) return type_error("component-id");
  return ComponentId{std::move(*ns), std::move(*name), std::move(*instance)};
}

Val payload_to_val(const Payload& p) {
  return Val(Record({{"codec", Val(p.codec)}, {"bytes", bytes_to_val(p.bytes)}}));
}

Result<Payload> val_to_payload(const Val& v) {
  const Val* codec = field(v, "codec");
  const Val* bytes = field(v, "bytes");
  if (codec == nullptr || !codec->is_u32() || bytes == nullptr) return type_error("payload");
  auto data = val_to_bytes(*bytes);
  if (!data) return std::move(data).error();
  return Payload{codec->get_u32(), std::move(*data)};
}

Val error_to_val(const Error& e) {
  std::string_view name = "internal";
  for (const auto& [code, case_name] : kErrorCases) {
    if (code == e.code) name = case_name;
  }
  // Host-only codes (traps, limits) travel as `internal` with the code spelled in the text.
  std::string text =
      name == "internal" && e.code != ErrorCode::kInternal ? e.describe() : e.message;
  return Val(Variant(name, Val::string(text)));
}

Error val_to_error(const Val& v) {
  if (!v.is_variant()) return type_error("error");
  const auto& var = v.get_variant();
  std::string text;
  if (const Val* p = var.value(); p != nullptr && p->is_string())
    text = std::string(p->get_string());
  for (const auto& [code, case_name] : kErrorCases) {
    if (case_name == var.discriminant()) return Error{code, std::move(text)};
  }
  return Error{ErrorCode::kInternal, std::move(text)};
}

Val message_to_val(const ComponentMessage& m) {
  std::optional<Val> correlation;
  if (m.correlation) correlation = Val(*m.correlation);
  std::optional<Val> topic;
  if (m.topic) topic = Val::string(*m.topic);
  return Val(Record({{"sender", component_id_to_val(m.sender)},
                     {"payload", payload_to_val(m.payload)},
                     {"correlation", Val(WitOption(std::move(correlation)))},
                     {"topic", Val(WitOption(std::move(topic)))}}));
}

Val callback_to_val(const CallbackResponse& c) {
  Val outcome = c.reply ? Val(WitResult::ok(payload_to_val(*c.reply)))
                        : Val(WitResult::err(error_to_val(
                              c.error.value_or(Error{ErrorCode::kInternal, "no outcome"}))));
  return Val(Record({{"correlation", Val(c.correlation)},
                     {"responder", component_id_to_val(c.responder)},
                     {"outcome", std::move(outcome)}}));
}

Val key_values_to_val(const KeyValues& kv) {
  std::vector<Val> items;
  items.reserve(kv.size());
  for (const auto& [k, v] : kv) items.emplace_back(Tuple({Val::string(k), Val::string(v)}));
  return Val(List(std::move(items)));
}

Result<KeyValues> val_to_key_values(const Val& v) {
  if (!v.is_list()) return type_error("list<tuple<string, string>>");
  KeyValues out;
  for (const Val& item : v.get_list()) {
    if (!item.is_tuple() || item.get_tuple().size() != 2)
      return type_error("tuple<string, string>");
    const Val* kv = item.get_tuple().begin();
    if (!kv[0].is_string() || !kv[1].is_string()) return type_error("tuple<string, string>");
    out.emplace_back(std::string(kv[0].get_string()), std::string(kv[1].get_string()));
  }
  return out;
}

Val metadata_to_val(const ComponentMetadata& m) {
  return Val(Record({{"name", Val::string(m.name)},
                     {"version", Val::string(m.version)},
                     {"description", Val::string(m.description)},
                     {"labels", key_values_to_val(m.labels)}}));
}

Result<ComponentMetadata> val_to_metadata(const Val& v) {
  auto name = string_field(v, "name");
  auto version = string_field(v, "version");
  auto description = string_field(v, "description");
  const Val* labels = field(v, "labels");
  if (!name || !version || !description || labels == nullptr) return type_error("metadata");
  auto kv = val_to_key_values(*labels);
  if (!kv) return std::move(kv).error();
  return ComponentMetadata{std::move(*name), std::move(*version), std::move(*description),
                           std::move(*kv)};
}

Result<HealthStatus> val_to_health(const Val& v) {
  if (!v.is_enum()) return type_error("health-status");
  const auto e = v.get_enum();
  if (e == "healthy") return HealthStatus::kHealthy;
  if (e == "degraded") return HealthStatus::kDegraded;
  if (e == "unhealthy") return HealthStatus::kUnhealthy;
  return type_error("health-status");
}

Result<LogLevel> val_to_log_level(const Val& v) {
  if (!v.is_enum()) return type_error("log-level");
  constexpr std::array<std::pair<std::string_view, LogLevel>, 5> kLevels{{
      {"trace", LogLevel::kTrace},
      {"debug", LogLevel::kDebug},
      {"info", LogLevel::kInfo},
      {"warn", LogLevel::kWarn},
      {"error", LogLevel::kError},
  }};
  for (const auto& [name, level] : kLevels) {
    if (name == v.get_enum()) return level;
  }
  return type_error("log-level");
}

Val string_list_to_val(const std::vector<std::string>& items) {
  std::vector<Val> vals;
  vals.reserve(items.size());
  for (const auto& s : items) vals.push_back(Val::string(s));
  return Val(List(std::move(vals)));
}

Val ok_val(std::optional<Val> value) {
  return Val(WitResult::ok(std::move(value)));
}

Val err_val(const Error& e) {
  return Val(WitResult::err(error_to_val(e)));
}

}  // namespace capsule::wasm::wit
