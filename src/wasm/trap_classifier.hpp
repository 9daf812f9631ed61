#pragma once

#include <string>
#include <string_view>

#include <capsule/core/error.hpp>

namespace capsule::wasm {

// Wasmtime's component API reports a failed call as an error string with no trap code, so this is
// the one place that reads those strings (checked against Wasmtime 48). Unit-tested with the
// messages the real engine produces.
[[nodiscard]] ErrorCode classify_call_failure(std::string_view wasmtime_message) noexcept;

// The first line of a Wasmtime error (its cause), without the backtrace that follows.
[[nodiscard]] std::string first_line(std::string_view wasmtime_message);

// The innermost cause of a Wasmtime error: the last line under "Caused by:" when present
// (e.g. "wasm trap: wasm `unreachable` instruction executed"), else the first line.
[[nodiscard]] std::string root_cause(std::string_view wasmtime_message);

// Guests built with the capsule SDK trap through this function when an allocation fails under
// the store's memory limit, so that the frame names the cause in Wasmtime's backtrace.
inline constexpr std::string_view kGuestOomSymbol = "capsule_guest_out_of_memory";

}  // namespace capsule::wasm
