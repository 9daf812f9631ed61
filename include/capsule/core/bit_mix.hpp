#pragma once

#include <cstdint>

namespace capsule {

// splitmix64's finaliser: spreads the bits of `x` over the whole word, so that inputs differing in
// a few low bits (similar names, nearby addresses, consecutive clock ticks) land far apart.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x = (x ^ (x >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27U)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31U);
}

}  // namespace capsule
