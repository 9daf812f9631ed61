#include "host_daemon.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "component_route.hpp"
#include "runtime_counters.hpp"

namespace capsule::daemon {

using nlohmann::json;

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out.empty() ? "-" : out;
}

}  // namespace

HostDaemon::HostDaemon(manifest::Manifest manifest, std::string admin, Reporter& reporter)
    : manifest_(std::move(manifest)),
      admin_address_(std::move(admin)),
      reporter_(reporter),
      feed_(std::make_shared<DashboardFeed>()),
      counters_(std::make_shared<RuntimeCounters>(reporter, feed_)) {
  // The dashboard's log tail; the feed is shared, so a line logged after the daemon is gone is
  // harmless.
  reporter_.set_tap([feed = feed_](std::string_view level, std::string_view message,
                                   const Reporter::Fields& fields) {
    json line{{"level", level}, {"msg", message}};
    for (const auto& [k, v] : fields) {
      // The admin token is printed once, to the operator's terminal: never to a web page.
      line["fields"][k] = k == "token" ? "(not shown here)" : v;
    }
    feed->log.push(std::move(line));
  });
}

HostDaemon::~HostDaemon() {
  shutdown();
}

Status HostDaemon::start() {
  component::RuntimeConfig rc;
  if (Status s = open_services(rc); !s) return s;
  runtime_ = std::make_unique<component::ComponentRuntime>(*system_, engine_, rc);
  if (bridge_) {
    auto attached = bridge_->attach(*runtime_);
    if (!attached) return std::move(attached).error();
    cluster_attachment_ = std::move(*attached);
    if (name_leases_) start_name_claims();
    reporter_.info("joined cluster " + manifest_.host.cluster,
                   {{"url", cluster_url_},
                    {"host", manifest_.host.name},
                    {"groups", join(manifest_.host.groups)}});
  }

  reporter_.info("capsule host '" + manifest_.host.name + "' starting " +
                 std::to_string(manifest_.components.size()) + " component(s) from " +
                 manifest_.file.filename().string());
  // The components placed on this host, compiled; the others are handed to failover_ or skipped.
  auto compiled = load_components();
  if (!compiled) return std::move(compiled).error();
  const auto& compiled_specs = *compiled;
  // Started in manifest order; a group starts where its first member is declared.
  std::set<std::string> started_groups;
  for (const auto& entry : manifest_.components) {
    auto spec = compiled_specs.find(entry.ns + "/" + entry.name);
    if (spec == compiled_specs.end()) continue;  // placed elsewhere
    const manifest::GroupEntry* group = manifest_.group_of(entry);
    Status s = ok();
    if (group == nullptr) {
      s = start_component(spec->second, entry.subscribe);
    } else if (started_groups.insert(group->name).second) {
      s = start_group(*group, compiled_specs);
    }
    if (!s) {
      Error e = std::move(s).error();
      e.message = manifest_.file.filename().string() + ":" +
                  std::to_string(group != nullptr ? group->line : entry.line) + ": " + e.message;
      return e;
    }
  }
  if (bridge_) {
    static_cast<void>(bridge_->announce());  // the other hosts can address them now
    if (failover_) failover_->start();
  }
  if (manifest_.http.enabled()) {
    std::map<std::string, std::uint32_t> running;
    for (const auto& [key, spec] : compiled_specs) {
      running.emplace(key, spec.on_demand ? ComponentRouteHandler::kOnDemand : spec.instances);
    }
    http_ = std::make_unique<HttpTrigger>(manifest_.http, reporter_);
    if (Status s = http_->start(*runtime_, running); !s) {
      Error e = std::move(s).error();
      e.message = manifest_.file.filename().string() + ":" + std::to_string(manifest_.http.line) +
                  ": " + e.message;
      return e;
    }
    const std::string listen = manifest_.http.listen;
    reporter_.info("http trigger ready",
                   {{"url", "http://" + listen.substr(0, listen.rfind(':')) + ":" +
                                std::to_string(http_->port())},
                    {"routes", std::to_string(manifest_.http.routes.size())}});
  }
  // Last: the admin API's threads read http_ (ps, health, metrics, restart), so it opens only
  // once everything it reports on exists; before, a request during start-up raced the trigger's
  // construction.
  if (Status s = open_admin_api(); !s) return s;
  std::size_t instances = 0;
  for (const auto& [key, spec] : compiled_specs) {
    if (!spec.on_demand) instances += spec.instances;
  }
  reporter_.info("ready: " + std::to_string(compiled_specs.size()) + " component(s), " +
                 std::to_string(instances) + " instance(s); Ctrl-C or SIGTERM to stop");
  return ok();
}

Result<std::map<std::string, component::ComponentSpec>> HostDaemon::load_components() {
  std::map<std::string, component::ComponentSpec> compiled_specs;
  for (const auto& entry : manifest_.components) {
    const auto t0 = std::chrono::steady_clock::now();
    auto compiled = engine_->load_file(entry.wasm);
    if (!compiled) {
      Error e = std::move(compiled).error();
      e.message = manifest_.file.filename().string() + ":" + std::to_string(entry.line) +
                  ": component '" + entry.ns + "/" + entry.name + "': " + e.message;
      return e;
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    char took[32];
    std::snprintf(took, sizeof took, "%.1f ms", ms);
    reporter_.info("loaded " + entry.ns + "/" + entry.name,
                   {{"wasm", entry.wasm.filename().string()},
                    {"how", (*compiled)->from_cache() ? "precompiled (cache)" : "compiled"},
                    {"took", took}});
    const cluster::PlacementRule rule{entry.ns, entry.name, entry.groups, entry.failover};
    const std::string key = entry.ns + "/" + entry.name;
    const bool home = cluster::placed_on(rule, manifest_.host.groups);
    if (failover_ && !entry.failover.empty() && home) {
      // Served here only under its lease: the failover loop starts it.
      failover_->add(key, {manifest::to_spec(entry, *compiled), entry.subscribe, true});
      continue;
    }
    if (!home) {
      const bool standby = failover_ && !entry.failover.empty() &&
                           cluster::in_any_group(manifest_.host.groups, entry.failover);
      if (standby)
        failover_->add(key, {manifest::to_spec(entry, *compiled), entry.subscribe, false});
      reporter_.info((standby ? "standing by for " : "not starting ") + key,
                     {{"placed_on", join(entry.groups)},
                      {"this_host", join(manifest_.host.groups)},
                      {"failover", join(entry.failover)}});
      continue;
    }
    compiled_specs.emplace(key, manifest::to_spec(entry, *compiled));
  }
  return compiled_specs;
}

Status HostDaemon::start_component(const component::ComponentSpec& spec,
                                   const std::vector<std::string>& topics) {
  auto ids = runtime_->start(spec);
  if (!ids) return std::move(ids).error();
  for (const auto& id : *ids) {
    for (const auto& topic : topics) {
      if (Status s = runtime_->subscribe(topic, id); !s) return s;
    }
  }
  if (spec.on_demand) {
    reporter_.info("started " + spec.ns + "/" + spec.name + " on demand",
                   {{"max_active", std::to_string(spec.on_demand->max_active)},
                    {"idle_timeout_ms", std::to_string(spec.on_demand->idle_timeout.count())}});
  } else {
    reporter_.info(
        "started " + spec.ns + "/" + spec.name,
        {{"instances", std::to_string(ids->size())}, {"topics", std::to_string(topics.size())}});
  }
  std::lock_guard lock(specs_mutex_);
  specs_[spec.ns + "/" + spec.name] = {spec, topics};
  return ok();
}

Status HostDaemon::start_group(const manifest::GroupEntry& group,
                               const std::map<std::string, component::ComponentSpec>& specs) {
  component::SupervisionGroupSpec spec{group.name, group.supervision, {}, group.escalation};
  std::vector<std::vector<std::string>> topics;
  for (const auto& member : group.members) {
    spec.members.push_back(specs.at(member));
    const auto entry = std::find_if(
        manifest_.components.begin(), manifest_.components.end(),
        [&](const manifest::ComponentEntry& e) { return e.ns + "/" + e.name == member; });
    topics.push_back(entry->subscribe);
  }
  auto ids = runtime_->start_group(spec);
  if (!ids) return std::move(ids).error();
  for (std::size_t i = 0; i < spec.members.size(); ++i) {
    const auto& member = spec.members[i];
    for (const auto& id : *ids) {
      if (id.ns != member.ns || id.name != member.name) continue;
      for (const auto& topic : topics[i]) {
        if (Status s = runtime_->subscribe(topic, id); !s) return s;
      }
    }
    std::lock_guard lock(specs_mutex_);
    specs_[member.ns + "/" + member.name] = {member, topics[i]};
  }
  reporter_.info("started group " + group.name,
                 {{"members", join(group.members)}, {"instances", std::to_string(ids->size())}});
  return ok();
}

Status HostDaemon::start_component_when_free(const component::ComponentSpec& spec,
                                             const std::vector<std::string>& topics) {
  // A stopped supervisor lets go of its name asynchronously; wait until it is free again.
  Status s = ok();
  for (int i = 0; i < 500; ++i) {
    s = start_component(spec, topics);
    if (s || s.error().code != ErrorCode::kAlreadyExists) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return s;
}

void HostDaemon::start_name_claims() {
  name_leases_->start(
      [this] {
        reporter_.warn(
            "this host's lease on its names was taken by another host (it could not "
            "renew it in time): its activations retire, and it takes a new lease "
            "once they are gone",
            {{"host", manifest_.host.name}});
        runtime_->placement_changed();
      },
      [this] { return !runtime_->has_activations(); });
  if (!name_leases_->holding()) {
    reporter_.info("waiting for this host's lease on its names (its previous life's lapses first)",
                   {{"host", manifest_.host.name}});
  }
}

void HostDaemon::run_until_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int signal = 0;
  sigwait(&set, &signal);
  reporter_.info(std::string("received ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") +
                 ", shutting down");
  shutdown();
}

void HostDaemon::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (dashboard_) dashboard_->close();  // open event streams end now, not at their next tick
  // Before the admin API and the components: requests in flight finish against running
  // components, no new ones are accepted.
  if (http_) http_->stop();
  if (admin_) admin_->close();
  if (failover_) failover_->stop();  // stops serving and releases its leases
  // Releasing this host's lease ends its claims at once: the other hosts may activate its
  // names now, while its own activations (their window closed) refuse what still comes.
  if (name_leases_) name_leases_->stop();
  if (!system_) return;
  const auto stats = runtime_ ? runtime_->correlation_stats() : component::CorrelationStats{};
  cluster_attachment_ = cluster::Attachment{};  // goodbye to the cluster first
  runtime_.reset();
  const auto report = system_->shutdown();
  reporter_.info("stopped", {{"actors", std::to_string(report.actors_at_start)},
                             {"killed", std::to_string(report.actors_killed)},
                             {"undelivered", std::to_string(report.undelivered_messages)},
                             {"pending_requests", std::to_string(stats.pending)}});
  system_.reset();
}

}  // namespace capsule::daemon
