#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <string_view>

namespace capsule::manifest {

// A manifest table's fields live in one array, which both the check and the "unknown field
// (known: ...)" message read: a field added to the parser is listed in the error by construction.

[[nodiscard]] inline bool known(std::string_view key, std::span<const std::string_view> fields) {
  return std::find(fields.begin(), fields.end(), key) != fields.end();
}

// "a, b, c"
[[nodiscard]] inline std::string field_list(std::span<const std::string_view> fields) {
  std::string out;
  for (const auto field : fields) {
    if (!out.empty()) out += ", ";
    out += field;
  }
  return out;
}

}  // namespace capsule::manifest
