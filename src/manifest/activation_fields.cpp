#include "activation_fields.hpp"

namespace capsule::manifest {
namespace {

constexpr std::int64_t kMaxIdleTimeoutMs = 7LL * 24 * 3600 * 1000;  // a week
constexpr std::int64_t kMaxActive = 1'000'000;

}  // namespace

ActivationFields parse_activation(const toml::table& component) {
  ActivationFields out;
  const auto fail = [&](const toml::node* at, std::string text) {
    out.on_demand.reset();
    out.error = ActivationFieldError{at, std::move(text)};
    return out;
  };
  const toml::node* mode = component.get("activation");
  const toml::node* idle = component.get("idle_timeout_ms");
  const toml::node* active = component.get("max_active");
  if (mode != nullptr) {
    const auto text = mode->value<std::string>();
    if (text != "on-demand" && text != "eager") {
      return fail(mode, "activation: expected \"on-demand\" or \"eager\"");
    }
    if (text == "on-demand") out.on_demand = component::OnDemandActivation{};
  }
  if (!out.on_demand) {
    if (idle != nullptr) return fail(idle, "idle_timeout_ms: only for activation = \"on-demand\"");
    if (active != nullptr) return fail(active, "max_active: only for activation = \"on-demand\"");
    return out;
  }
  if (idle != nullptr) {
    const auto ms = idle->value<std::int64_t>();
    if (!ms || *ms < 1 || *ms > kMaxIdleTimeoutMs) {
      return fail(idle, "idle_timeout_ms: expected milliseconds between 1 and " +
                            std::to_string(kMaxIdleTimeoutMs) + " (a week)");
    }
    out.on_demand->idle_timeout = std::chrono::milliseconds{*ms};
  }
  if (active != nullptr) {
    const auto n = active->value<std::int64_t>();
    if (!n || *n < 1 || *n > kMaxActive) {
      return fail(active,
                  "max_active: expected a count between 1 and " + std::to_string(kMaxActive));
    }
    out.on_demand->max_active = static_cast<std::uint32_t>(*n);
  }
  return out;
}

}  // namespace capsule::manifest
