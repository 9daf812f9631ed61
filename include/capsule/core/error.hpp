#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace capsule {

// One error vocabulary for every layer. The WIT `error` variant mirrors the guest-visible subset,
// so a host failure can be handed to a guest without a lossy translation table.
enum class ErrorCode : std::uint8_t {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kQuotaExceeded,
  kTimeout,
  kCancelled,
  kUnavailable,
  kNotImplemented,
  kIncompatible,   // e.g. a component built for another WIT package version
  kCompileFailed,  // malformed or invalid wasm
  kOutOfFuel,      // trap: fuel budget exhausted
  kInterrupted,    // trap: wall-time (epoch) deadline reached
  kMemoryLimit,    // memory.grow refused by the store limiter, or OOM trap
  kTrap,           // any other guest trap (unreachable, bounds, ...)
  kGuestError,     // the guest returned an error value on purpose
  kMailboxFull,
  kWouldBlock,  // a full `block` mailbox, and the sender runs where it may not wait (a worker)
  kInternal,
};

[[nodiscard]] std::string_view to_string(ErrorCode code) noexcept;

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // "timeout: request to app/echo/0 timed out after 50 ms"
  [[nodiscard]] std::string describe() const;
  friend bool operator==(const Error&, const Error&) = default;
};

}  // namespace capsule
