#include <array>
#include <utility>

#include <capsule/core/multicodec.hpp>

namespace capsule::multicodec {
namespace {
constexpr std::array<std::pair<std::uint32_t, std::string_view>, 6> kNames{{
    {kRaw, "raw"},
    {kCbor, "cbor"},
    {kJson, "json"},
    {kMessagePack, "msgpack"},
    {kProtobuf, "protobuf"},
    {kUtf8Text, "text"},
}};
}  // namespace

std::string_view name_of(std::uint32_t code) noexcept {
  for (const auto& [c, n] : kNames) {
    if (c == code) return n;
  }
  return "unknown";
}

std::optional<std::uint32_t> code_of(std::string_view name) noexcept {
  for (const auto& [c, n] : kNames) {
    if (n == name) return c;
  }
  return std::nullopt;
}

}  // namespace capsule::multicodec
