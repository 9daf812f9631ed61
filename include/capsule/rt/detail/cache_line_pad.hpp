#pragma once

#include <cstddef>

namespace capsule::rt::detail {

// Bytes between data written by different threads, so that they never share a cache line. Padding
// instead of alignas(64): an over-aligned object needs an aligned allocation (glibc's memalign
// costs several times a malloc, and actor cells are allocated on every spawn), while 64 bytes
// between two fields separate them at any address.
inline constexpr std::size_t kCacheLine = 64;
struct CacheLinePad {
  char bytes[kCacheLine];  // NOLINT(cppcoreguidelines-avoid-c-arrays,modernize-avoid-c-arrays)
};

}  // namespace capsule::rt::detail
