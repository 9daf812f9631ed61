#include "deferred_replies.hpp"

#include <iterator>
#include <utility>

namespace capsule::component {

void DeferredReplies::begin_handling(std::optional<CorrelationId> correlation) {
  handling_ = correlation;
  handling_request_ = true;
  handling_deferred_ = false;
}

bool DeferredReplies::end_handling() {
  const bool deferred = handling_deferred_;
  handling_.reset();
  handling_request_ = false;
  handling_deferred_ = false;
  return deferred;
}

Status DeferredReplies::defer(CorrelationId correlation, const std::string& who,
                              const StillPending& pending) {
  const std::string id = std::to_string(correlation);
  if (!handling_request_) {
    return make_error(ErrorCode::kInvalidArgument,
                      "messaging.defer-reply(" + id + ") by " + who +
                          " outside handle-message: only the request being handled can be "
                          "deferred");
  }
  if (!handling_) {
    return make_error(ErrorCode::kInvalidArgument,
                      "messaging.defer-reply(" + id + ") by " + who +
                          ": the message being handled is not a request (it has no correlation)");
  }
  if (*handling_ != correlation) {
    return make_error(ErrorCode::kInvalidArgument, "messaging.defer-reply(" + id + ") by " + who +
                                                       ": the request being handled is " +
                                                       std::to_string(*handling_));
  }
  if (handling_deferred_) return ok();  // asked twice in one turn: still one deferral
  if (deferred_.size() >= kMaxDeferred) {
    // Forget what ended without a reply (timed out, cancelled) before refusing.
    std::erase_if(deferred_, [&](CorrelationId c) { return !pending(c); });
  }
  if (deferred_.size() >= kMaxDeferred) {
    return make_error(ErrorCode::kQuotaExceeded,
                      who + " already has " + std::to_string(deferred_.size()) +
                          " deferred requests not answered (the limit per instance): reply to "
                          "some before deferring request " +
                          id);
  }
  deferred_.insert(correlation);
  handling_deferred_ = true;
  return ok();
}

Status DeferredReplies::take(CorrelationId correlation, const std::string& who) {
  if (erase(correlation)) return ok();
  return make_error(ErrorCode::kNotFound,
                    "messaging.reply(" + std::to_string(correlation) + ") by " + who +
                        ": no such deferred request here (never deferred by this instance, or "
                        "already answered)");
}

std::vector<CorrelationId> DeferredReplies::take_all() {
  std::vector<CorrelationId> all(std::make_move_iterator(deferred_.begin()),
                                 std::make_move_iterator(deferred_.end()));
  deferred_.clear();
  return all;
}

}  // namespace capsule::component
