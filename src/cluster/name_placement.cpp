#include <capsule/cluster/name_placement.hpp>
#include <capsule/core/bit_mix.hpp>

namespace capsule::cluster {
namespace {

// FNV-1a over the bytes, then splitmix64's finaliser: FNV alone spreads short, similar keys
// (user-1, user-2) poorly in the high bits the comparison looks at.
constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

std::uint64_t fnv(std::uint64_t h, std::string_view bytes) {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

}  // namespace

std::uint64_t placement_weight(std::string_view host, const ComponentId& id) {
  // A separator no name can contain ('/' is not allowed in a host name or an id segment), so
  // ("ab", "c") and ("a", "bc") hash differently.
  std::uint64_t h = fnv(kFnvOffset, host);
  for (const std::string_view part :
       {std::string_view(id.ns), std::string_view(id.name), std::string_view(id.instance)}) {
    h = fnv(h, "/");
    h = fnv(h, part);
  }
  return mix64(h);
}

std::string choose_owner(const std::vector<std::string>& hosts, const ComponentId& id) {
  const std::string* best = nullptr;
  std::uint64_t best_weight = 0;
  for (const auto& host : hosts) {
    const std::uint64_t w = placement_weight(host, id);
    if (best == nullptr || w > best_weight || (w == best_weight && host < *best)) {
      best = &host;
      best_weight = w;
    }
  }
  return best != nullptr ? *best : std::string{};
}

}  // namespace capsule::cluster
