// What a host opens before its components start: the data dir, the engine sized for the
// manifest, the actor system, the audit log, component storage (SQLite or NATS KV), the upgrade
// directories, and with --cluster the NATS bridge and failover's leases.
#include <capsule/cluster/nats_kv_backend.hpp>
#include <capsule/security/audit.hpp>
#include <capsule/security/policy_engine.hpp>
#include <capsule/storage/sqlite_kv_backend.hpp>
#include <capsule/wasm/component_shape.hpp>
#include <capsule/wasm/engine_sizing.hpp>

#include "host_daemon.hpp"
#include "recent_events.hpp"
#include "runtime_counters.hpp"

namespace capsule::daemon {

Status HostDaemon::open_services(component::RuntimeConfig& rc) {
  std::error_code ec;
  std::filesystem::create_directories(manifest_.host.data_dir / "cache", ec);
  if (ec) {
    return make_error(
        ErrorCode::kUnavailable,
        "cannot create data dir " + manifest_.host.data_dir.string() + ": " + ec.message());
  }
  wasm::EngineConfig config;
  config.cache_dir = manifest_.host.data_dir / "cache";
  // Every component of the manifest, including those this host would only adopt on failover.
  std::vector<wasm::InstanceDemand> demands;
  demands.reserve(manifest_.components.size());
  for (const auto& c : manifest_.components) {
    // An on-demand component holds at most max_active instances at once.
    const std::uint32_t instances = c.on_demand ? c.on_demand->max_active : c.instances;
    // Unreadable here: counted as unknown; loading it later names the cause.
    auto shape = wasm::read_component_shape(c.wasm);
    demands.push_back(
        {c.ns + "/" + c.name, instances, c.limits.memory_bytes, shape ? shape->memories : 0});
  }
  // A wasi:http/proxy route's pool holds up to `instances` instances at once.
  for (const auto& route : manifest_.http.routes) {
    if (route.wasm.empty()) continue;
    auto shape = wasm::read_component_shape(route.wasm);
    demands.push_back(
        {"route " + route.path, route.instances, route.memory_bytes, shape ? shape->memories : 0});
  }
  auto sizing =
      wasm::size_engine(demands, wasm::HostCapacity::probe(), config.default_limits.memory_bytes);
  if (!sizing) {
    return make_error(sizing.error().code,
                      manifest_.file.filename().string() + ": " + sizing.error().message);
  }
  sizing->apply(config);
  // The default limit applies only to components without their own; all of them fit the slot.
  config.default_limits.memory_bytes =
      std::min(config.default_limits.memory_bytes, config.pooling.max_memory_bytes);
  reporter_.info("engine sized", {{"memory", sizing->summary},
                                  {"reserved", sizing->reserved_text},
                                  {"maps", std::to_string(sizing->maps_estimate)}});
  auto engine = wasm::WasmEngine::create(config);
  if (!engine) return std::move(engine).error();
  engine_ = *engine;
  rt::SystemConfig sys;
  sys.observer = counters_;
  system_ = std::make_unique<rt::ActorSystem>(sys);
  // Before any actor exists, so that every dead letter is counted by its reason.
  system_->subscribe_dead_letters(
      [counters = counters_](const rt::DeadLetter& letter) { counters->on_dead_letter(letter); });
  // Deny by default: every host function is checked against the manifest's declarations and
  // grants; denials go to the audit log; component state lives in one SQLite file.
  rc.policy = std::make_shared<security::PolicyEngine>();
  auto audit = security::JsonLinesAuditSink::open(manifest_.host.audit_log);
  if (!audit) return std::move(audit).error();
  // Every record to the file; the refused ones also to the dashboard.
  audit_ =
      std::make_shared<DenialTap>(std::shared_ptr<security::AuditSink>(std::move(*audit)), feed_);
  rc.audit = audit_;
  auto upgrade_dirs = UpgradeDirs::resolve(manifest_.host.upgrade_dirs);
  if (!upgrade_dirs) {
    Error e = std::move(upgrade_dirs).error();
    e.message = manifest_.file.filename().string() + ": " + e.message;
    return e;
  }
  upgrade_dirs_ = std::move(*upgrade_dirs);
  std::string storage_where;
  if (manifest_.host.storage_backend == "nats-kv") {
    // Shared by every host of the cluster: a component adopted by another host finds its data.
    if (cluster_url_.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        manifest_.file.filename().string() +
                            ": host.storage_backend = \"nats-kv\" needs --cluster nats://...");
    }
    cluster::NatsKvBackend::Options kv;
    kv.url = cluster_url_;
    if (credentials_) {
      kv.user = credentials_->user;
      kv.password = credentials_->password;
    }
    kv.tls = cluster_tls();
    kv.bucket = manifest_.host.kv_bucket;
    kv.replicas = manifest_.host.kv_replicas;
    auto backend = cluster::NatsKvBackend::connect(kv);
    if (!backend) return std::move(backend).error();
    const int replicas = (*backend)->replicas();
    if (replicas != kv.replicas) {
      // Replicas are set when a bucket is created; JetStream can change them later.
      reporter_.warn("storage bucket replicas differ from host.kv_replicas",
                     {{"bucket", kv.bucket},
                      {"replicas", std::to_string(replicas)},
                      {"kv_replicas", std::to_string(kv.replicas)},
                      {"change", "nats stream edit KV_" + kv.bucket + " --replicas " +
                                     std::to_string(kv.replicas)}});
    }
    storage_fencing_ =
        (*backend)->server_fencing()
            ? "server-checked: the server refuses a write once a newer lease or claim holder "
              "fenced the space or name (JetStream API level " +
                  std::to_string((*backend)->server_api_level()) + ")"
            : "client-side only: this host checks its lease window before each write leaves, the "
              "server cannot (nats-server older than 2.11); a host frozen between that check and "
              "the write's arrival can land one late write";
    rc.storage = std::shared_ptr<storage::KvBackend>(std::move(*backend));
    storage_where = "nats-kv bucket " + kv.bucket + " (replicas " + std::to_string(replicas) +
                    ") at " + cluster_url_;
  } else {
    auto backend = storage::SqliteKvBackend::open(manifest_.host.storage);
    if (!backend) return std::move(backend).error();
    rc.storage = std::shared_ptr<storage::KvBackend>(std::move(*backend));
    storage_where = manifest_.host.storage.string();
  }
  reporter_.info("security on",
                 {{"audit_log", manifest_.host.audit_log.string()}, {"storage", storage_where}});
  rc.quotas = manifest_.host.quotas;
  rc.log_sink = [this](const ComponentId& who, wasm::LogLevel level, const std::string& message,
                       const wasm::KeyValues& fields) {
    Reporter::Fields f{{"component", who.to_string()}};
    for (const auto& kv : fields) f.push_back(kv);
    reporter_.line(wasm::to_string(level), message, f);
  };
  if (!cluster_url_.empty()) {
    if (Status s = join_cluster_now(rc); !s) return s;
  }
  return ok();
}

cluster::TlsFiles HostDaemon::cluster_tls() const {
  // The command line's file wins over the manifest, as --host does over [host].name.
  if (credentials_ && credentials_->tls.enabled()) return credentials_->tls;
  const auto& m = manifest_.host.cluster_tls;
  return {m.ca, m.cert, m.key};
}

Status HostDaemon::join_cluster_now(component::RuntimeConfig& rc) {
  cluster::BridgeConfig cc;
  cc.url = cluster_url_;
  if (credentials_) {
    cc.user = credentials_->user;
    cc.password = credentials_->password;
  }
  cc.tls = cluster_tls();
  cc.cluster = manifest_.host.cluster;
  cc.host = manifest_.host.name;
  cc.groups = manifest_.host.groups;
  cc.confirm_sends = manifest_.host.confirm_remote_sends;
  auto bridge = cluster::NatsBridge::connect(cc);
  if (!bridge) return std::move(bridge).error();
  bridge_ = *bridge;
  rc.remote = bridge_;
  cluster::LeaseConfig lc;
  lc.url = cluster_url_;
  lc.bucket = cluster::lease_bucket(manifest_.host.cluster);
  lc.host = manifest_.host.name;
  lc.user = cc.user;
  lc.password = cc.password;
  lc.tls = cc.tls;
  lc.replicas = manifest_.host.kv_replicas;
  lc.duration = cc.heartbeat_interval * cc.missed_heartbeats;  // a dead host's lease lapses then
  const bool has_on_demand =
      std::any_of(manifest_.components.begin(), manifest_.components.end(),
                  [](const manifest::ComponentEntry& c) { return c.on_demand.has_value(); });
  if (has_on_demand) {
    auto claims = cluster::NameLeases::connect(lc);
    if (!claims) {
      Error e = std::move(claims).error();
      e.message =
          "on-demand components in a cluster need name claims in NATS JetStream KV: " + e.message;
      return e;
    }
    name_leases_ = std::move(*claims);
    rc.name_claimer = name_leases_;
    // Each activation's storage is fenced by its claim's token (with nats-kv storage; SQLite is
    // this host's alone).
    if (!storage_fencing_.empty()) {
      reporter_.info("name storage fencing", {{"fencing", storage_fencing_}});
    }
  }
  const bool has_failover =
      std::any_of(manifest_.components.begin(), manifest_.components.end(),
                  [](const manifest::ComponentEntry& c) { return !c.failover.empty(); });
  if (!has_failover) return ok();
  std::vector<cluster::PlacementRule> rules;
  rules.reserve(manifest_.components.size());
  for (const auto& c : manifest_.components) rules.push_back({c.ns, c.name, c.groups, c.failover});
  auto leases = cluster::LeaseKeeper::connect(lc);
  if (!leases) {
    Error e = std::move(leases).error();
    e.message = "failover needs leases in NATS JetStream KV: " + e.message;
    return e;
  }
  reporter_.info("failover storage fencing", {{"fencing", storage_fencing_}});
  failover_ = std::make_unique<FailoverLoop>(
      bridge_, std::move(*leases),
      cluster::FailoverPlanner(manifest_.host.name, manifest_.host.groups, std::move(rules)),
      reporter_,
      [this](const component::ComponentSpec& spec, const std::vector<std::string>& topics) {
        return start_component_when_free(spec, topics);
      },
      [this](const component::ComponentSpec& spec) {
        static_cast<void>(runtime_->stop(spec.ns, spec.name));
      },
      [this](const std::string& unit, std::uint64_t token) {
        storage::KvBackend* kv = runtime_->storage();
        return kv != nullptr ? kv->fence(unit, {}, token) : ok();
      });
  bridge_->on_cluster_change([this] { failover_->poke(); });
  return ok();
}

}  // namespace capsule::daemon
