#pragma once

#include <memory>
#include <string_view>

#include <capsule/core/component_id.hpp>
#include <capsule/core/result.hpp>
#include <capsule/security/audit.hpp>
#include <capsule/security/audit_throttle.hpp>
#include <capsule/security/policy_engine.hpp>

namespace capsule::security {

// The one place a host function asks "may `who` do this?": consults the policy, writes the
// audit record, and turns a denial into the typed error the guest receives.
class AccessGuard {
 public:
  struct Options {
    // Denials are always audited. Allowed calls only when set: a message send is a hot path.
    bool audit_allowed = false;
    // Records about one component per second; the rest are counted and summarised. 0: no limit.
    std::uint32_t audit_records_per_second = 20;
  };
  AccessGuard(std::shared_ptr<const PolicyEngine> policy, std::shared_ptr<AuditSink> audit,
              Options options);

  // No policy engine: checks are off (a trusted embedding); every call is allowed.
  [[nodiscard]] bool enforcing() const noexcept { return policy_ != nullptr; }

  // ok, or permission-denied "<who> may not <action> '<target>': <reason>".
  Status authorize(const ComponentId& who, Action action, std::string_view target) const;
  // authorize under PolicyEngine::check_rules: for callers from another host.
  Status authorize_foreign(const ComponentId& who, Action action, std::string_view target) const;
  // authorize for "some target of `action`" (PolicyEngine::check_any); audited with target "*".
  Status authorize_any(const ComponentId& who, Action action) const;
  // Like authorize, but neither audits nor fails: for filtering list results.
  [[nodiscard]] bool permits(const ComponentId& who, Action action, std::string_view target) const;
  [[nodiscard]] bool permits_any(const ComponentId& who, Action action) const;
  [[nodiscard]] StorageQuota storage_quota(std::string_view ns, std::string_view name) const;
  // Audits a refusal decided elsewhere (a quota), under the same per-component rate limit.
  void audit_refusal(const ComponentId& who, Action action, std::string_view target,
                     std::string reason) const;

 private:
  Status conclude(const ComponentId& who, Action action, std::string_view target,
                  const Decision& decision) const;
  void write(const ComponentId& who, Action action, std::string_view target, bool allowed,
             std::string reason) const;

  std::shared_ptr<const PolicyEngine> policy_;
  std::shared_ptr<AuditSink> audit_;
  Options options_;
  // Shared: the guard is copied by value into the places that check.
  std::shared_ptr<AuditThrottle> throttle_;
};

}  // namespace capsule::security
