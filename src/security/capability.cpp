#include <array>

#include <capsule/security/capability.hpp>

namespace capsule::security {
namespace {

constexpr std::array<std::string_view, kActionCount> kActionNames = {
    "messaging.send",      "messaging.request", "messaging.broadcast", "messaging.publish",
    "messaging.subscribe", "storage.read",      "storage.write",       "storage.delete",
    "services.log",        "services.time",     "services.list",       "filesystem.read",
    "filesystem.write",    "network.connect",   "services.random",
};

bool unexpired(const std::optional<Clock::time_point>& expires, Clock::time_point now) {
  return !expires || now < *expires;
}

}  // namespace

std::string_view to_string(Action action) noexcept {
  const auto i = static_cast<std::size_t>(action);
  return i < kActionNames.size() ? kActionNames[i] : std::string_view("unknown");
}

Result<Action> parse_action(std::string_view text) {
  for (std::size_t i = 0; i < kActionNames.size(); ++i) {
    if (kActionNames[i] == text) return static_cast<Action>(i);
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown capability '" + std::string(text.substr(0, 64)) +
                        "' (expected e.g. messaging.send, storage.read, services.log)");
}

Result<CapabilitySet> CapabilitySet::compile(const std::vector<Capability>& capabilities) {
  CapabilitySet set;
  set.entries_.reserve(capabilities.size());
  for (const auto& c : capabilities) {
    auto pattern = Pattern::compile(c.target);
    if (!pattern) {
      Error e = std::move(pattern).error();
      e.message = std::string(to_string(c.action)) + ": " + e.message;
      return e;
    }
    set.entries_.push_back(Entry{c.action, std::move(*pattern), c.expires});
  }
  return set;
}

bool CapabilitySet::permits(Action action, std::string_view target, Clock::time_point now) const {
  for (const auto& e : entries_) {
    if (e.action == action && unexpired(e.expires, now) && e.pattern.matches(target)) return true;
  }
  return false;
}

std::vector<const Pattern*> CapabilitySet::patterns(Action action, Clock::time_point now) const {
  std::vector<const Pattern*> out;
  for (const auto& e : entries_) {
    if (e.action == action && unexpired(e.expires, now)) out.push_back(&e.pattern);
  }
  return out;
}

}  // namespace capsule::security
