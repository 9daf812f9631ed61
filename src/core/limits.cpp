#include <capsule/core/limits.hpp>

namespace capsule {

std::string payload_too_large(std::uint64_t size, std::uint64_t limit, std::string_view who) {
  return "payload of " + std::to_string(size) + " bytes from " + std::string(who) +
         " exceeds the limit of " + std::to_string(limit) + " bytes (max_payload)";
}

}  // namespace capsule
