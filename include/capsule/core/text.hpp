#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace capsule {

// Text that came from a guest (or the wire) and is about to be shown to people or written
// somewhere that gives a line or a byte its meaning.

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
[[nodiscard]] bool is_valid_utf8(std::string_view text) noexcept;

// The longest prefix of `text` of at most `max_bytes` bytes that does not end inside a UTF-8
// sequence.
[[nodiscard]] std::string_view cut_utf8(std::string_view text, std::size_t max_bytes) noexcept;

// cut_utf8(text, max_bytes), followed by " ... (N bytes cut)" when anything was cut.
[[nodiscard]] std::string cut_utf8_noted(std::string_view text, std::size_t max_bytes);

// `text` with every control character written out (\n, \r, \t, \xNN), so that one guest line
// stays one line and cannot move the cursor or pass for a line of the host's own.
[[nodiscard]] std::string escape_controls(std::string_view text);

}  // namespace capsule
