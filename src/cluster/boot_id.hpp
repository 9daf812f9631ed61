#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

namespace capsule::cluster {

// 64 random bits in hex: which life of a host something came from (a request's origin boot, a
// lease's holder), so that a restarted host with the same name is told apart from its old life.
inline std::string random_boot_id() {
  std::random_device device;
  const std::uint64_t bits = (std::uint64_t{device()} << 32U) | device();
  std::array<char, 17> text{};
  std::snprintf(text.data(), text.size(), "%016llx", static_cast<unsigned long long>(bits));
  return text.data();
}

}  // namespace capsule::cluster
