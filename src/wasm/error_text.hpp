#pragma once

#include <string>
#include <string_view>

namespace capsule::wasm {

// Helpers that shorten Wasmtime's error text for people. They never decide what kind of failure
// it was: the Rust boundary reads that from Wasmtime's trap codes (third_party/wasmtime-capi/src/
// failure.rs), since a guest can shape parts of the text (function names in the backtrace).

// The first line of a Wasmtime error (its cause), without the backtrace that follows.
[[nodiscard]] std::string first_line(std::string_view wasmtime_message);

// The innermost cause of a Wasmtime error: the last line under "Caused by:" when present
// (e.g. "wasm trap: wasm `unreachable` instruction executed"), else the first line.
[[nodiscard]] std::string root_cause(std::string_view wasmtime_message);

// The whole error: its first line, then one "  caused by: <cause>" line per cause in Wasmtime's
// chain, outermost first (its "Caused by:" block, numbering dropped); no backtrace.
[[nodiscard]] std::string error_chain(std::string_view wasmtime_message);

}  // namespace capsule::wasm
