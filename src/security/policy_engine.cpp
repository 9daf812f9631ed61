#include <utility>

#include <capsule/security/policy_engine.hpp>

namespace capsule::security {
namespace {

std::string profile_key(std::string_view ns, std::string_view name) {
  std::string key(ns);
  key += '/';
  key += name;
  return key;
}

bool unexpired(const std::optional<Clock::time_point>& expires, Clock::time_point now) {
  return !expires || now < *expires;
}

// What every component may do without asking: read the clocks and log at info and above. Both
// are harmless to others and a component that cannot log its own failure is undebuggable;
// debug/trace logging can flood the host log, so it must be declared and granted.
bool builtin_default(Action action, std::string_view target) {
  if (action == Action::kTime || action == Action::kRandom) return true;
  if (action == Action::kLog) return target == "info" || target == "warn" || target == "error";
  return false;
}

std::string rule_label(const PolicyRule& rule, std::size_t index) {
  return rule.name.empty() ? "#" + std::to_string(index) : "'" + rule.name + "'";
}

}  // namespace

PolicyEngine::PolicyEngine(ClockFn clock)
    : clock_(clock ? std::move(clock) : ClockFn([] { return Clock::now(); })),
      state_(std::make_shared<const State>()) {}

Result<PolicyEngine::CompiledRule> PolicyEngine::compile_rule(const PolicyRule& rule) {
  auto subject = Pattern::compile(rule.subject);
  if (!subject) return std::move(subject).error();
  auto target = Pattern::compile(rule.target);
  if (!target) return std::move(target).error();
  return CompiledRule{rule, std::move(*subject), std::move(*target)};
}

Status PolicyEngine::set_component(std::string_view ns, std::string_view name,
                                   const ComponentPermissions& permissions) {
  auto declared = CapabilitySet::compile(permissions.declared);
  if (!declared) return std::move(declared).error();
  auto granted = CapabilitySet::compile(permissions.granted);
  if (!granted) return std::move(granted).error();
  std::lock_guard lock(write_mutex_);
  auto next = std::make_shared<State>(*snapshot());
  next->components.insert_or_assign(
      profile_key(ns, name),
      Profile{std::move(*declared), std::move(*granted), permissions.storage_quota});
  publish(std::move(next));
  return ok();
}

void PolicyEngine::remove_component(std::string_view ns, std::string_view name) {
  std::lock_guard lock(write_mutex_);
  auto next = std::make_shared<State>(*snapshot());
  next->components.erase(profile_key(ns, name));
  publish(std::move(next));
}

Status PolicyEngine::set_rules(const std::vector<PolicyRule>& rules) {
  std::vector<CompiledRule> compiled;
  compiled.reserve(rules.size());
  for (const auto& r : rules) {
    auto c = compile_rule(r);
    if (!c) return std::move(c).error();  // all or nothing: no half-applied rule set
    compiled.push_back(std::move(*c));
  }
  std::lock_guard lock(write_mutex_);
  auto next = std::make_shared<State>(*snapshot());
  next->rules = std::move(compiled);
  publish(std::move(next));
  return ok();
}

Status PolicyEngine::add_rule(const PolicyRule& rule) {
  auto c = compile_rule(rule);
  if (!c) return std::move(c).error();
  std::lock_guard lock(write_mutex_);
  auto next = std::make_shared<State>(*snapshot());
  next->rules.push_back(std::move(*c));
  publish(std::move(next));
  return ok();
}

std::vector<PolicyRule> PolicyEngine::rules() const {
  std::vector<PolicyRule> out;
  for (const auto& r : snapshot()->rules) out.push_back(r.rule);
  return out;
}

Decision PolicyEngine::check(const ComponentId& who, Action action, std::string_view target) const {
  const auto state = snapshot();
  const Clock::time_point now = clock_();
  // "ns/name/instance": the rules' subject, and its "ns/name" prefix keys the profile.
  const std::string subject = who.to_string();
  const std::string_view component =
      std::string_view(subject).substr(0, who.ns.size() + 1 + who.name.size());
  auto rule_matches = [&](const CompiledRule& r, Effect effect) {
    return r.rule.effect == effect && (!r.rule.action || *r.rule.action == action) &&
           unexpired(r.rule.expires, now) && r.subject.matches(subject) && r.target.matches(target);
  };
  for (std::size_t i = 0; i < state->rules.size(); ++i) {
    if (rule_matches(state->rules[i], Effect::kDeny)) {
      return {false, "denied by policy rule " + rule_label(state->rules[i].rule, i)};
    }
  }
  if (builtin_default(action, target)) return {true, "default"};
  auto it = state->components.find(component);
  if (it == state->components.end()) {
    return {false, "no capabilities registered for " + std::string(component)};
  }
  const Profile& profile = it->second;
  if (!profile.declared.permits(action, target, now)) {
    return {false, "not declared by the component"};
  }
  if (profile.granted.permits(action, target, now)) return {true, "granted"};
  for (std::size_t i = 0; i < state->rules.size(); ++i) {
    if (rule_matches(state->rules[i], Effect::kAllow)) {
      return {true, "allowed by policy rule " + rule_label(state->rules[i].rule, i)};
    }
  }
  return {false, "declared but not granted by the host"};
}

Decision PolicyEngine::check_rules(const ComponentId& who, Action action,
                                   std::string_view target) const {
  const auto state = snapshot();
  const Clock::time_point now = clock_();
  const std::string subject = who.to_string();
  for (std::size_t i = 0; i < state->rules.size(); ++i) {
    const auto& r = state->rules[i];
    if (r.rule.effect == Effect::kDeny && (!r.rule.action || *r.rule.action == action) &&
        unexpired(r.rule.expires, now) && r.subject.matches(subject) && r.target.matches(target)) {
      return {false, "denied by policy rule " + rule_label(r.rule, i)};
    }
  }
  return {true, "remote caller, checked by its own host"};
}

Decision PolicyEngine::check_any(const ComponentId& who, Action action) const {
  const auto state = snapshot();
  const Clock::time_point now = clock_();
  const std::string subject = who.to_string();
  bool allow_rule = false;
  for (std::size_t i = 0; i < state->rules.size(); ++i) {
    const auto& r = state->rules[i];
    if ((r.rule.action && *r.rule.action != action) || !unexpired(r.rule.expires, now) ||
        !r.subject.matches(subject)) {
      continue;
    }
    if (r.rule.effect == Effect::kDeny && r.rule.target == "**") {
      return {false, "denied by policy rule " + rule_label(r.rule, i)};
    }
    if (r.rule.effect == Effect::kAllow) allow_rule = true;
  }
  auto it = state->components.find(profile_key(who.ns, who.name));
  if (it == state->components.end()) {
    return {false, "no capabilities registered for " + profile_key(who.ns, who.name)};
  }
  if (it->second.declared.patterns(action, now).empty()) {
    return {false, "not declared by the component"};
  }
  if (!it->second.granted.patterns(action, now).empty() || allow_rule) return {true, "granted"};
  return {false, "declared but not granted by the host"};
}

StorageQuota PolicyEngine::storage_quota(std::string_view ns, std::string_view name) const {
  const auto state = snapshot();
  auto it = state->components.find(profile_key(ns, name));
  return it == state->components.end() ? StorageQuota{} : it->second.quota;
}

}  // namespace capsule::security
