#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <capsule/core/result.hpp>

namespace capsule {

// Identity of one running component instance: "namespace/name/instance", e.g. "shop/cart/0".
struct ComponentId {
  std::string ns;
  std::string name;
  std::string instance;

  [[nodiscard]] std::string to_string() const;
  // Accepts "ns/name/instance" and "ns/name" (instance "0"). Segments are [A-Za-z0-9._-]+.
  [[nodiscard]] static Result<ComponentId> parse(std::string_view text);

  friend auto operator<=>(const ComponentId&, const ComponentId&) = default;
  friend bool operator==(const ComponentId&, const ComponentId&) = default;
};

[[nodiscard]] bool is_valid_id_segment(std::string_view segment) noexcept;

}  // namespace capsule

template <>
struct std::hash<capsule::ComponentId> {
  std::size_t operator()(const capsule::ComponentId& id) const noexcept {
    std::size_t h = std::hash<std::string>{}(id.ns);
    h ^= std::hash<std::string>{}(id.name) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= std::hash<std::string>{}(id.instance) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
  }
};
