#include <utility>

#include <capsule/security/access_guard.hpp>

namespace capsule::security {

AccessGuard::AccessGuard(std::shared_ptr<const PolicyEngine> policy,
                         std::shared_ptr<AuditSink> audit, Options options)
    : policy_(std::move(policy)),
      audit_(std::move(audit)),
      options_(options),
      throttle_(std::make_shared<AuditThrottle>(options.audit_records_per_second)) {}

Status AccessGuard::authorize(const ComponentId& who, Action action,
                              std::string_view target) const {
  if (!policy_) return ok();
  return conclude(who, action, target, policy_->check(who, action, target));
}

Status AccessGuard::authorize_foreign(const ComponentId& who, Action action,
                                      std::string_view target) const {
  if (!policy_) return ok();
  return conclude(who, action, target, policy_->check_rules(who, action, target));
}

Status AccessGuard::authorize_any(const ComponentId& who, Action action) const {
  if (!policy_) return ok();
  return conclude(who, action, "*", policy_->check_any(who, action));
}

Status AccessGuard::conclude(const ComponentId& who, Action action, std::string_view target,
                             const Decision& d) const {
  if (!d.allowed || options_.audit_allowed) write(who, action, target, d.allowed, d.reason);
  if (d.allowed) return ok();
  return make_error(ErrorCode::kPermissionDenied, who.to_string() + " may not " +
                                                      std::string(to_string(action)) + " '" +
                                                      std::string(target) + "': " + d.reason);
}

void AccessGuard::audit_refusal(const ComponentId& who, Action action, std::string_view target,
                                std::string reason) const {
  write(who, action, target, false, std::move(reason));
}

void AccessGuard::write(const ComponentId& who, Action action, std::string_view target,
                        bool allowed, std::string reason) const {
  if (!audit_) return;
  const auto left_out = throttle_->admit(who, std::chrono::steady_clock::now());
  if (!left_out) return;
  if (*left_out > 0) {
    reason += " (" + std::to_string(*left_out) + " similar records suppressed before this one)";
  }
  audit_->record(
      AuditRecord{Clock::now(), who, action, std::string(target), allowed, std::move(reason)});
}

bool AccessGuard::permits(const ComponentId& who, Action action, std::string_view target) const {
  return !policy_ || policy_->check(who, action, target).allowed;
}

bool AccessGuard::permits_any(const ComponentId& who, Action action) const {
  return !policy_ || policy_->check_any(who, action).allowed;
}

StorageQuota AccessGuard::storage_quota(std::string_view ns, std::string_view name) const {
  return policy_ ? policy_->storage_quota(ns, name) : StorageQuota{};
}

}  // namespace capsule::security
