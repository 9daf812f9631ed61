#include <array>

#include <capsule/core/component_id.hpp>

namespace capsule {

bool is_valid_id_segment(std::string_view segment) noexcept {
  if (segment.empty() || segment.size() > 128) return false;
  for (char c : segment) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return segment != "." && segment != "..";
}

std::string ComponentId::to_string() const {
  return ns + "/" + name + "/" + instance;
}

Result<ComponentId> ComponentId::parse(std::string_view text) {
  std::array<std::string_view, 3> parts{};
  std::size_t count = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = text.find('/', start);
    if (count == parts.size()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "component id '" + std::string(text) + "' has more than 3 segments");
    }
    parts[count++] = text.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (count < 2) {
    return make_error(ErrorCode::kInvalidArgument,
                      "component id '" + std::string(text) + "' must be namespace/name[/instance]");
  }
  if (count == 2) parts[2] = "0";
  for (std::size_t i = 0; i < 3; ++i) {
    if (!is_valid_id_segment(parts[i])) {
      return make_error(ErrorCode::kInvalidArgument,
                        "component id '" + std::string(text) + "' has an invalid segment '" +
                            std::string(parts[i]) + "' (allowed: letters, digits, . _ -)");
    }
  }
  return ComponentId{std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
}

}  // namespace capsule
