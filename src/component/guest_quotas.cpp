#include "guest_quotas.hpp"

namespace capsule::host {

bool TokenBucket::take(double n, Clock::time_point now) {
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(rate_, tokens_ + elapsed * rate_);
  if (tokens_ < n) return false;
  tokens_ -= n;
  return true;
}

GuestQuotaGate::GuestQuotaGate(std::string component, GuestQuotas quotas,
                               const security::AccessGuard& guard)
    : component_(std::move(component)),
      quotas_(quotas),
      guard_(guard),
      messages_(quotas.messages_per_second),
      log_lines_(quotas.log_lines_per_second),
      log_bytes_(static_cast<double>(quotas.log_bytes_per_second)) {}

Error GuestQuotaGate::refuse(const ComponentId& caller, Quota which, security::Action action,
                             const std::string& what) {
  std::string text = caller.to_string() + " is over the quota of " + component_ + ": " + what;
  Refusals& r = refusals_[which];
  ++r.since_audit;
  const auto now = TokenBucket::Clock::now();
  if (!r.last_audit || now - *r.last_audit >= std::chrono::seconds(1)) {
    guard_.audit_refusal(caller, action, "quota",
                         "quota-exceeded: " + what + "; " + std::to_string(r.since_audit) +
                             " calls refused since the last record");
    r.last_audit = now;
    r.since_audit = 0;
  }
  return Error{ErrorCode::kQuotaExceeded, std::move(text)};
}

Status GuestQuotaGate::take_messages(const ComponentId& caller, std::uint32_t n,
                                     security::Action action) {
  if (!messages_.take(n, TokenBucket::Clock::now())) {
    return refuse(caller, kMessages, action,
                  "messages_per_second " + std::to_string(quotas_.messages_per_second) +
                      " (sends, requests, publishes and broadcast targets of all its instances)");
  }
  return ok();
}

Status GuestQuotaGate::admit_messages(const ComponentId& caller, std::uint32_t n,
                                      security::Action action) {
  std::lock_guard lock(mutex_);
  return take_messages(caller, n, action);
}

Status GuestQuotaGate::admit_request(const ComponentId& caller) {
  std::lock_guard lock(mutex_);
  if (pending_.load(std::memory_order_relaxed) >= quotas_.pending_requests) {
    return refuse(caller, kPending, security::Action::kRequest,
                  "pending_requests " + std::to_string(quotas_.pending_requests) +
                      " (requests whose outcome has not arrived yet)");
  }
  if (Status s = take_messages(caller, 1, security::Action::kRequest); !s) return s;
  pending_.fetch_add(1, std::memory_order_relaxed);
  return ok();
}

Status GuestQuotaGate::admit_subscription(const ComponentId& caller, const std::string& topic) {
  std::lock_guard lock(mutex_);
  std::string key = caller.instance + "|" + topic;
  if (subscriptions_.contains(key)) return ok();
  if (subscriptions_.size() >= quotas_.subscriptions) {
    return refuse(caller, kSubscriptions, security::Action::kSubscribe,
                  "subscriptions " + std::to_string(quotas_.subscriptions) +
                      " (topics at once, all its instances)");
  }
  subscriptions_.insert(std::move(key));
  return ok();
}

void GuestQuotaGate::release_subscription(const ComponentId& caller, const std::string& topic) {
  std::lock_guard lock(mutex_);
  subscriptions_.erase(caller.instance + "|" + topic);
}

Status GuestQuotaGate::admit_broadcast(const ComponentId& caller, std::size_t targets) {
  std::lock_guard lock(mutex_);
  if (targets > quotas_.broadcast_targets) {
    return refuse(caller, kBroadcast, security::Action::kBroadcast,
                  "broadcast_targets " + std::to_string(quotas_.broadcast_targets) + " (asked " +
                      std::to_string(targets) + " in one broadcast)");
  }
  return take_messages(caller, static_cast<std::uint32_t>(targets), security::Action::kBroadcast);
}

GuestQuotaGate::LogVerdict GuestQuotaGate::admit_log(std::size_t bytes) {
  std::lock_guard lock(mutex_);
  const auto now = TokenBucket::Clock::now();
  LogVerdict v;
  // Both buckets are asked only when the line can pass the first: a refused line spends nothing.
  v.write = log_lines_.take(1, now);
  if (v.write && !log_bytes_.take(static_cast<double>(bytes), now)) {
    v.write = false;
    log_lines_.refund(1);
  }
  if (!v.write) {
    if (dropped_lines_ == 0) {
      v.notice = component_ + " reached its log rate limit (" +
                 std::to_string(quotas_.log_lines_per_second) + " lines/s, " +
                 std::to_string(quotas_.log_bytes_per_second) +
                 " bytes/s): further lines are dropped and counted";
    }
    ++dropped_lines_;
    dropped_bytes_ += bytes;
    return v;
  }
  if (dropped_lines_ > 0) {
    v.notice = component_ + ": " + std::to_string(dropped_lines_) + " log lines (" +
               std::to_string(dropped_bytes_) + " bytes) were dropped by the log rate limit";
    dropped_lines_ = 0;
    dropped_bytes_ = 0;
  }
  return v;
}

}  // namespace capsule::host
