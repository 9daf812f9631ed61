// Sizes in a manifest ("16MiB", "512KiB", "1GiB", "4096"), and how a refused value is shown.
#include <cctype>
#include <limits>
#include <sstream>
#include <string>

#include "table_parsers.hpp"

namespace capsule::manifest {

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    // Checked before it happens: a count that does not fit is refused, never wrapped.
    if (n > (kMaxManifestSize - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string_view unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  unsigned shift = 0;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "KiB" || unit == "K") {
    shift = 10;
  } else if (unit == "MiB" || unit == "M") {
    shift = 20;
  } else if (unit == "GiB" || unit == "G") {
    shift = 30;
  } else {
    return std::nullopt;
  }
  // "17179869185GiB" is 2^64 + 2^30 bytes: shifted in 64 bits it would read as 1 GiB.
  if (n > (kMaxManifestSize >> shift)) return std::nullopt;
  return n << shift;
}

std::string shown(const toml::node& n) {
  std::string text;
  if (const auto s = n.value<std::string>(); s && n.is_string()) {
    // In double quotes, as a manifest writes strings (toml++ would print 'literal' quotes).
    text = "\"" + *s + "\"";
  } else {
    std::ostringstream out;
    n.visit([&out](const auto& v) { out << v; });
    text = out.str();
  }
  constexpr std::size_t kMax = 48;  // a value, not a document
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

}  // namespace capsule::manifest
