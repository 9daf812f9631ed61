#include <capsule/core/error.hpp>

namespace capsule {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kPermissionDenied:
      return "permission denied";
    case ErrorCode::kQuotaExceeded:
      return "quota exceeded";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kNotImplemented:
      return "not implemented";
    case ErrorCode::kIncompatible:
      return "incompatible";
    case ErrorCode::kCompileFailed:
      return "compile failed";
    case ErrorCode::kOutOfFuel:
      return "out of fuel";
    case ErrorCode::kInterrupted:
      return "interrupted (wall-time limit)";
    case ErrorCode::kMemoryLimit:
      return "memory limit";
    case ErrorCode::kTrap:
      return "trap";
    case ErrorCode::kGuestError:
      return "guest error";
    case ErrorCode::kMailboxFull:
      return "mailbox full";
    case ErrorCode::kWouldBlock:
      return "mailbox full (would block)";
    case ErrorCode::kInternal:
      return "internal error";
  }
  return "unknown error";
}

std::string Error::describe() const {
  std::string out{to_string(code)};
  if (!message.empty()) {
    out += ": ";
    out += message;
  }
  return out;
}

}  // namespace capsule
