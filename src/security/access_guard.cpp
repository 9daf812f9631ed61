#include <utility>

#include <capsule/security/access_guard.hpp>

namespace capsule::security {

AccessGuard::AccessGuard(std::shared_ptr<const PolicyEngine> policy,
                         std::shared_ptr<AuditSink> audit, Options options)
    : policy_(std::move(policy)), audit_(std::move(audit)), options_(options) {}

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
  if (audit_ && (!d.allowed || options_.audit_allowed)) {
    audit_->record(
        AuditRecord{Clock::now(), who, action, std::string(target), d.allowed, d.reason});
  }
  if (d.allowed) return ok();
  return make_error(ErrorCode::kPermissionDenied, who.to_string() + " may not " +
                                                      std::string(to_string(action)) + " '" +
                                                      std::string(target) + "': " + d.reason);
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
