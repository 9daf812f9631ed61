#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <capsule/core/message.hpp>
#include <capsule/core/result.hpp>

namespace capsule {

// One message of a batch of sends (capsule:core 0.1.2 `messaging.send-batch`, and the host's
// ComponentRuntime::send_batch): each goes to `to` exactly as a send alone would.
struct OutgoingMessage {
  ComponentId to;
  Payload payload;
};

// The most messages one batch may carry. It bounds what one call holds in flight (and the list
// of outcomes the guest gets back); a sender wanting more sends several batches.
inline constexpr std::size_t kMaxSendBatch = 1024;

// One outcome per message, at its index; or one error for the whole batch (nothing was sent).
using BatchOutcome = Result<std::vector<Status>>;
using BatchDone = std::function<void(BatchOutcome)>;

// The whole-batch refusal for `n` messages (n > kMaxSendBatch), naming `who`.
[[nodiscard]] inline Error batch_too_large(std::size_t n, const std::string& who) {
  return Error{ErrorCode::kInvalidArgument, "send-batch of " + std::to_string(n) + " messages by " +
                                                who + ": at most " + std::to_string(kMaxSendBatch) +
                                                " per call (nothing was sent); split it"};
}

}  // namespace capsule
