#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <capsule/cluster/cluster_auth.hpp>
#include <capsule/cluster/name_leases.hpp>
#include <capsule/cluster/nats_bridge.hpp>
#include <capsule/cluster/placement.hpp>
#include <capsule/component/component_runtime.hpp>
#include <capsule/rt/actor_system.hpp>
#include <capsule/wasm/engine.hpp>

#include "admin_endpoints.hpp"
#include "admin_views.hpp"
#include "dashboard.hpp"
#include "failover.hpp"
#include "http.hpp"
#include "http_trigger.hpp"
#include "manifest/manifest.hpp"
#include "reporter.hpp"
#include "upgrade_dirs.hpp"

namespace capsule::daemon {

class RuntimeCounters;

// `capsule run`: one host process running an app manifest, with an admin endpoint (JSON API for
// the CLI, Prometheus text at /metrics) on a Unix socket and, opted in, loopback TCP.
class HostDaemon {
 public:
  // `admin`: the loopback TCP address to serve the admin API on as well ("" = Unix socket only).
  HostDaemon(manifest::Manifest manifest, std::string admin, Reporter& reporter);
  ~HostDaemon();
  HostDaemon(const HostDaemon&) = delete;
  HostDaemon& operator=(const HostDaemon&) = delete;

  // Before start(): join cluster `[host].cluster` at this NATS URL as host `[host].name`, in
  // groups `[host].groups` (see docs/cluster.md).
  void join_cluster(std::string nats_url) { cluster_url_ = std::move(nats_url); }
  // Logs in to the cluster's NATS server as this host (see `capsule cluster init`).
  void use_credentials(cluster::HostCredentials credentials) {
    credentials_ = std::move(credentials);
  }
  // Loads and starts every component, then opens the admin endpoint.
  [[nodiscard]] Status start();
  // Blocks until SIGINT or SIGTERM, then shuts down gracefully.
  void run_until_signal();
  void shutdown();

 private:
  // host_services.cpp: what the components need before they start (engine, actor system, audit,
  // storage, upgrade dirs, cluster), set up in `rc` and the members.
  Status open_services(component::RuntimeConfig& rc);
  // Starts name_leases_ with this host's runtime: a lost lease retires the activations.
  void start_name_claims();
  Status join_cluster_now(component::RuntimeConfig& rc);
  // TLS of every NATS connection: the credentials file's (`cluster init --tls`), else
  // [host.cluster_tls]; not enabled: plain TCP.
  [[nodiscard]] cluster::TlsFiles cluster_tls() const;
  // Compiles every component of the manifest; returns those placed on this host ("ns/name").
  Result<std::map<std::string, component::ComponentSpec>> load_components();
  // admin_api.cpp: the dashboard and the admin listeners, routed to handle().
  Status open_admin_api();
  HttpResponse handle(const HttpRequest& request);
  HttpResponse route(const HttpRequest& request);
  HttpResponse ps() const;
  HttpResponse health() const;
  HttpResponse hosts() const;
  HttpResponse send_or_call(const std::string& body, bool call);
  HttpResponse stop_component(const std::string& body);
  // POST /v1/restart: a component, or a wasi:http/proxy route (by its path or name); `by`: who
  // asked, for the log.
  HttpResponse restart_component(const std::string& body, const std::string& by);
  HttpResponse restart_route(const std::string& which, const std::string& by);
  HttpResponse upgrade_component(const std::string& body);
  [[nodiscard]] std::string metrics() const;
  [[nodiscard]] OperatorRestarts operator_restarts() const;
  Status start_component(const component::ComponentSpec& spec,
                         const std::vector<std::string>& topics);
  Status start_group(const manifest::GroupEntry& group,
                     const std::map<std::string, component::ComponentSpec>& specs);
  // start_component, retried while a stopping supervisor of the same name still holds it.
  Status start_component_when_free(const component::ComponentSpec& spec,
                                   const std::vector<std::string>& topics);

  manifest::Manifest manifest_;
  std::string admin_address_;
  Reporter& reporter_;
  std::shared_ptr<DashboardFeed> feed_;        // log tail, failures, denials for the dashboard
  std::shared_ptr<RuntimeCounters> counters_;  // for /metrics; the runtime's observer
  std::shared_ptr<wasm::WasmEngine> engine_;
  std::unique_ptr<rt::ActorSystem> system_;
  std::string cluster_url_;
  std::optional<cluster::HostCredentials> credentials_;
  // How failover units' storage writes are fenced (logged once when failover starts).
  std::string storage_fencing_ = "none needed: storage is this host's own (SQLite)";
  std::shared_ptr<cluster::NatsBridge> bridge_;
  std::unique_ptr<component::ComponentRuntime> runtime_;
  cluster::Attachment cluster_attachment_;  // after runtime_: detached before it is destroyed
  mutable std::mutex specs_mutex_;
  std::map<std::string, std::pair<component::ComponentSpec, std::vector<std::string>>> specs_;
  OperatorRestarts operator_restarts_;  // under specs_mutex_
  // Components only one host serves at a time (with failover), under leases; null without a
  // cluster or without such components.
  std::unique_ptr<FailoverLoop> failover_;
  // Claims on the names of on-demand components, so that one host at a time activates each;
  // null without a cluster or without such components.
  std::shared_ptr<cluster::NameLeases> name_leases_;
  std::shared_ptr<security::AuditSink> audit_;  // component denials and admin actions
  std::optional<UpgradeDirs> upgrade_dirs_;
  std::unique_ptr<Dashboard> dashboard_;  // before admin_: outlives the streams admin_ serves
  std::unique_ptr<AdminEndpoints> admin_;
  // [http]: after runtime_, so that it is drained (stop() in shutdown) while components run.
  std::unique_ptr<HttpTrigger> http_;
  bool shut_down_ = false;
};

}  // namespace capsule::daemon
