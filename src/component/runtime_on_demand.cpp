// ComponentRuntime and on-demand components (virtual actors): one ActivationDirectory each.
#include <algorithm>
#include <utility>

#include <capsule/component/component_runtime.hpp>

#include "activation_directory.hpp"

namespace capsule::component {

Result<std::vector<ComponentId>> ComponentRuntime::start_on_demand(const ComponentSpec& spec) {
  // The checks every component gets (name, reserved namespace, permissions), on a copy that
  // builds no instance.
  ComponentSpec checked = spec;
  checked.instances = 1;
  std::vector<ComponentId> unused;
  if (auto children = children_of(checked, unused); !children) return std::move(children).error();
  const std::string what = spec.ns + "/" + spec.name;
  if (spec.on_demand->max_active == 0) {
    return make_error(ErrorCode::kInvalidArgument, what + ": max_active must be >= 1");
  }
  if (spec.on_demand->idle_timeout.count() <= 0) {
    return make_error(ErrorCode::kInvalidArgument, what + ": idle_timeout must be > 0");
  }
  if (!spec.links.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      what +
                          ": an on-demand component cannot be linked (its activations come and "
                          "go; links are for supervised instances)");
  }
  if (spec.serving) {
    return make_error(ErrorCode::kInvalidArgument,
                      what + ": an on-demand component cannot be a failover unit");
  }
  if (is_running(spec.ns, spec.name)) {
    return make_error(ErrorCode::kAlreadyExists, what + " is already running");
  }
  auto directory = std::make_shared<ActivationDirectory>(*this, spec);
  {
    std::unique_lock lock(directories_mutex_);
    directories_.push_back(std::move(directory));
    has_directories_.store(true, std::memory_order_release);
  }
  // In a cluster, the other hosts learn that its names may be placed here.
  if (config_.remote) config_.remote->on_demand_loaded(what, true);
  return std::vector<ComponentId>{};
}

bool ComponentRuntime::loads_on_demand(std::string_view ns, std::string_view name) const {
  return directory_for(ComponentId{std::string(ns), std::string(name), "0"}) != nullptr;
}

void ComponentRuntime::placement_changed() {
  if (!has_directories_.load(std::memory_order_acquire)) return;
  run_io([this] {
    std::vector<std::shared_ptr<ActivationDirectory>> directories;
    {
      std::shared_lock lock(directories_mutex_);
      directories = directories_;
    }
    for (const auto& d : directories) d->release_moved();
  });
}

std::shared_ptr<ActivationDirectory> ComponentRuntime::directory_for(const ComponentId& id) const {
  if (!has_directories_.load(std::memory_order_acquire)) return nullptr;
  std::shared_lock lock(directories_mutex_);
  for (const auto& d : directories_) {
    if (d->spec().name == id.name && d->spec().ns == id.ns) return d;
  }
  return nullptr;
}

void ComponentRuntime::name_fenced(const ComponentId& id, const Error& why) {
  if (auto directory = directory_for(id)) directory->fenced_out(id.instance, why);
}

bool ComponentRuntime::has_activations() const {
  std::shared_lock lock(directories_mutex_);
  return std::any_of(directories_.begin(), directories_.end(),
                     [](const auto& d) { return d->occupied() != 0; });
}

std::vector<ActivationStats> ComponentRuntime::activation_stats() const {
  std::vector<ActivationStats> out;
  std::shared_lock lock(directories_mutex_);
  out.reserve(directories_.size());
  for (const auto& d : directories_) out.push_back(d->stats());
  return out;
}

}  // namespace capsule::component
