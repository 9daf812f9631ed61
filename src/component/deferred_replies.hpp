#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <capsule/core/message.hpp>
#include <capsule/core/result.hpp>

namespace capsule::component {

// The requests one instance answers later (capsule:core 0.1.1: `messaging.defer-reply` inside
// `handle-message`, then `messaging.reply` from any later turn). Touched only on the instance's
// own turns (its actor's handler and the host functions the guest calls from it), so no lock.
//
// Exactly one outcome per request still holds: the requester's timeout runs as for any request
// (a reply after it is refused to the guest, never delivered); a reply is taken out of here before
// it is sent, so a second one is refused; whatever is left when the instance stops (restart,
// stop, retirement) is failed by its actor.
class DeferredReplies {
 public:
  // More requests deferred and not answered by one instance is `quota-exceeded` (after those
  // that already ended are forgotten): a guest that never replies cannot grow the host.
  static constexpr std::size_t kMaxDeferred = 4096;
  // Whether a request still waits for its outcome (the runtime's tracker).
  using StillPending = std::function<bool(CorrelationId)>;

  // handle-message starts for `message` (no correlation: not a request) / has finished; true
  // when the guest deferred that request, which then stays here until reply() or stop.
  void begin_handling(std::optional<CorrelationId> correlation);
  bool end_handling();

  // `messaging.defer-reply`: only for the request being handled. `who` names the instance in
  // errors.
  Status defer(CorrelationId correlation, const std::string& who, const StillPending& pending);
  // `messaging.reply`: takes `correlation` out; not-found when it was not deferred here (or was
  // answered already).
  Status take(CorrelationId correlation, const std::string& who);
  // Takes `correlation` out without an error for the guest; false when it was not deferred here.
  bool erase(CorrelationId correlation) { return deferred_.erase(correlation) == 1; }
  // Everything still deferred, taken out (the instance stops).
  std::vector<CorrelationId> take_all();

  [[nodiscard]] std::size_t size() const { return deferred_.size(); }

 private:
  std::optional<CorrelationId> handling_;
  bool handling_request_ = false;  // handle-message is running (for a request or not)
  bool handling_deferred_ = false;
  std::unordered_set<CorrelationId> deferred_;
};

}  // namespace capsule::component
