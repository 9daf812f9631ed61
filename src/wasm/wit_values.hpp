#pragma once

// Lifting and lowering between capsule core types and Wasmtime component values, for the records
// and variants declared in wit/types.wit. Field order follows the WIT declaration; lookups are by
// name so a reordered record is a type error at link time, never a silent mix-up here.

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include <wasmtime/component.hh>

#include <capsule/core/message.hpp>
#include <capsule/core/result.hpp>
#include <capsule/wasm/host_api.hpp>

namespace capsule::wasm::wit {

using wasmtime::component::Val;

[[nodiscard]] Val bytes_to_val(std::span<const std::uint8_t> bytes);
[[nodiscard]] Result<std::vector<std::uint8_t>> val_to_bytes(const Val& v);

[[nodiscard]] Val component_id_to_val(const ComponentId& id);
[[nodiscard]] Result<ComponentId> val_to_component_id(const Val& v);

[[nodiscard]] Val payload_to_val(const Payload& p);
[[nodiscard]] Result<Payload> val_to_payload(const Val& v);

[[nodiscard]] Val error_to_val(const Error& e);
[[nodiscard]] Error val_to_error(const Val& v);

[[nodiscard]] Val message_to_val(const ComponentMessage& m);
[[nodiscard]] Val callback_to_val(const CallbackResponse& c);
[[nodiscard]] Val key_values_to_val(const KeyValues& kv);
[[nodiscard]] Result<KeyValues> val_to_key_values(const Val& v);
[[nodiscard]] Val metadata_to_val(const ComponentMetadata& m);
[[nodiscard]] Result<ComponentMetadata> val_to_metadata(const Val& v);
[[nodiscard]] Result<HealthStatus> val_to_health(const Val& v);
[[nodiscard]] Result<LogLevel> val_to_log_level(const Val& v);
[[nodiscard]] Val string_list_to_val(const std::vector<std::string>& items);

// result<T, error> helpers for host function returns.
[[nodiscard]] Val ok_val(std::optional<Val> value);
[[nodiscard]] Val err_val(const Error& e);

// Case index of wit/types.wit's `error` variant <-> our ErrorCode. Host-only codes (traps,
// limits) map to `internal`.
[[nodiscard]] std::uint8_t error_tag_of(ErrorCode code) noexcept;
[[nodiscard]] ErrorCode error_code_from_tag(std::uint8_t tag) noexcept;

// Finds a record field by name.
[[nodiscard]] const Val* field(const Val& record, std::string_view name);

}  // namespace capsule::wasm::wit
