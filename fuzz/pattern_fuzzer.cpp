// libFuzzer target for security::Pattern: "<pattern>\n<subject>". Besides not crashing, checks
// the properties the policy relies on.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <capsule/security/pattern.hpp>

using capsule::security::is_matchable_subject;
using capsule::security::Pattern;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nl = input.find('\n');
  const std::string_view pattern_text = input.substr(0, nl);
  const std::string_view subject = nl == std::string_view::npos ? "" : input.substr(nl + 1);

  auto pattern = Pattern::compile(pattern_text);
  static const Pattern kAll = *Pattern::compile("**");
  // Nothing unmatchable (traversal, empty segments, NUL) is ever matched, by any pattern.
  if (kAll.matches(subject) != is_matchable_subject(subject)) __builtin_trap();
  if (!pattern) return 0;
  const bool matched = pattern->matches(subject);
  if (matched && !is_matchable_subject(subject)) __builtin_trap();
  // A pattern without wildcards matches exactly its own text.
  if (pattern_text.find_first_of("*?") == std::string_view::npos) {
    if (!pattern->matches(pattern_text)) __builtin_trap();
    if (matched && subject != pattern_text) __builtin_trap();
  }
  return 0;
}
