#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <capsule/core/component_id.hpp>
#include <capsule/core/result.hpp>
#include <capsule/security/capability.hpp>

namespace capsule::security {

enum class Effect : std::uint8_t { kAllow, kDeny };

// An operator's rule over grants. `subject` is a pattern over the caller's full id
// ("shop/**", "shop/cart/*"); `action` empty means every action.
struct PolicyRule {
  Effect effect = Effect::kDeny;
  std::string subject = "**";
  std::optional<Action> action;
  std::string target = "**";
  std::optional<Clock::time_point> expires;
  std::string name;  // shown in denials and audit records, e.g. "freeze-payments"
};

struct Decision {
  bool allowed = false;
  std::string reason;  // why, in words: "denied by policy rule 'freeze'", "not granted by host"
};

// Decides every capability check. Per component (ns/name) it holds the declared and granted
// capabilities; over them, operator rules. Precedence, first match wins:
//   1. an unexpired deny rule matching (caller, action, target)        -> denied
//   2. the built-in defaults every component has (clocks, log at info+) -> allowed
//   3. declared by the component AND (granted by the host OR an allow rule) -> allowed
//   4. anything else                                                     -> denied
// Checks read an immutable snapshot; updates (components, rules) swap in a new one, so an
// operator's change applies to the very next call of running components, no restart.
class PolicyEngine {
 public:
  using ClockFn = std::function<Clock::time_point()>;
  explicit PolicyEngine(ClockFn clock = {});

  // Registers (or replaces) what ns/name declared and was granted. Fails on a bad pattern.
  Status set_component(std::string_view ns, std::string_view name,
                       const ComponentPermissions& permissions);
  void remove_component(std::string_view ns, std::string_view name);

  Status set_rules(const std::vector<PolicyRule>& rules);  // replaces all rules at once
  Status add_rule(const PolicyRule& rule);
  [[nodiscard]] std::vector<PolicyRule> rules() const;

  [[nodiscard]] Decision check(const ComponentId& who, Action action,
                               std::string_view target) const;
  // Only the operator's rules: for a caller that is no component of this host (another host's
  // component whose message the cluster bridge delivers; its own host checked its grants).
  // Denied by a matching deny rule, otherwise allowed.
  [[nodiscard]] Decision check_rules(const ComponentId& who, Action action,
                                     std::string_view target) const;
  // Whether `who` may do `action` on at least some target (for list-keys, usage, list-components,
  // whose results are then filtered per item with check()). A deny rule counts here only when
  // its target is "**": a narrower deny leaves other targets allowed.
  [[nodiscard]] Decision check_any(const ComponentId& who, Action action) const;
  // The quota registered for ns/name; the default quota for unknown components.
  [[nodiscard]] StorageQuota storage_quota(std::string_view ns, std::string_view name) const;

 private:
  struct CompiledRule {
    PolicyRule rule;
    Pattern subject;
    Pattern target;
  };
  struct Profile {
    CapabilitySet declared;
    CapabilitySet granted;
    StorageQuota quota;
  };
  // Lets check() find "ns/name" by a string_view into the caller's id text: no allocation.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct State {
    std::unordered_map<std::string, Profile, KeyHash, std::equal_to<>> components;  // "ns/name"
    std::vector<CompiledRule> rules;
  };
  static Result<CompiledRule> compile_rule(const PolicyRule& rule);
  [[nodiscard]] std::shared_ptr<const State> snapshot() const { return state_.load(); }
  void publish(std::shared_ptr<const State> next) { state_.store(std::move(next)); }

  ClockFn clock_;
  std::mutex write_mutex_;  // serialises copy-on-write updates; readers never take it
  std::atomic<std::shared_ptr<const State>> state_;
};

}  // namespace capsule::security
