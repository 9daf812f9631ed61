#pragma once

#include <string_view>

namespace capsule::rt::detail {

// A unique address per message type: lets ActorAddress -> ActorRef<Msg> casts be checked without
// RTTI.
template <typename T>
struct TypeTag {
  static constexpr char id = 0;
};

template <typename T>
[[nodiscard]] constexpr const void* type_tag() noexcept {
  return &TypeTag<T>::id;
}

// Readable type name for dead letters and errors, from the compiler's function signature.
template <typename T>
[[nodiscard]] constexpr std::string_view type_name() noexcept {
  std::string_view sig = __PRETTY_FUNCTION__;
  const auto start = sig.find("T = ");
  if (start == std::string_view::npos) return sig;
  sig.remove_prefix(start + 4);
  const auto end = sig.find_first_of(";]");
  return sig.substr(0, end);
}

}  // namespace capsule::rt::detail
