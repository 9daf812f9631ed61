#include "error_text.hpp"

namespace capsule::wasm {

std::string first_line(std::string_view m) {
  const auto nl = m.find('\n');
  return std::string(m.substr(0, nl));
}

std::string root_cause(std::string_view m) {
  const auto caused = m.rfind("Caused by:");
  if (caused == std::string_view::npos) return first_line(m);
  std::string_view rest = m.substr(caused + 10);
  std::string_view last;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    const auto start = line.find_first_not_of(" \t");
    if (start != std::string_view::npos) last = line.substr(start);
    if (nl == std::string_view::npos) break;
    rest = rest.substr(nl + 1);
  }
  // "0: cause" numbering appears when there are several causes; keep only the text.
  if (const auto colon = last.find(": ");
      colon != std::string_view::npos &&
      last.substr(0, colon).find_first_not_of("0123456789") == std::string_view::npos) {
    last = last.substr(colon + 2);
  }
  return last.empty() ? first_line(m) : std::string(last);
}

std::string error_chain(std::string_view m) {
  std::string out = first_line(m);
  const auto caused = m.find("\nCaused by:");
  if (caused == std::string_view::npos) return out;
  std::string_view rest = m.substr(caused + 11);
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) continue;
    // A backtrace is for whoever debugs the guest, not for this summary.
    if (start == 0 && line.starts_with("Stack backtrace:")) break;
    line = line.substr(start);
    if (const auto colon = line.find(": ");
        colon != std::string_view::npos && colon > 0 &&
        line.substr(0, colon).find_first_not_of("0123456789") == std::string_view::npos) {
      line = line.substr(colon + 2);
    }
    out += "\n  caused by: ";
    out += line;
  }
  return out;
}

}  // namespace capsule::wasm
