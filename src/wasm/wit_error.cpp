#include "wit_error.hpp"

#include <array>

namespace capsule::wasm::wit {
namespace {

// In the order of the `error` variant's cases in wit/types.wit.
constexpr std::array<ErrorCode, 9> kErrorCases{
    ErrorCode::kInvalidArgument, ErrorCode::kNotFound,       ErrorCode::kPermissionDenied,
    ErrorCode::kQuotaExceeded,   ErrorCode::kTimeout,        ErrorCode::kCancelled,
    ErrorCode::kUnavailable,     ErrorCode::kNotImplemented, ErrorCode::kInternal,
};

}  // namespace

std::uint8_t error_tag_of(ErrorCode code) noexcept {
  for (std::size_t i = 0; i < kErrorCases.size(); ++i) {
    if (kErrorCases[i] == code) return static_cast<std::uint8_t>(i);
  }
  return static_cast<std::uint8_t>(kErrorCases.size() - 1);  // internal
}

ErrorCode error_code_from_tag(std::uint8_t tag) noexcept {
  return tag < kErrorCases.size() ? kErrorCases[tag] : ErrorCode::kInternal;
}

}  // namespace capsule::wasm::wit
