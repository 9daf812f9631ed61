#include "host_daemon.hpp"

#include <csignal>
#include <future>
#include <nlohmann/json.hpp>

#include <capsule/cluster/nats_kv_backend.hpp>
#include <capsule/rt/monitoring.hpp>
#include <capsule/security/audit.hpp>
#include <capsule/security/policy_engine.hpp>
#include <capsule/storage/sqlite_kv_backend.hpp>
#include <capsule/wasm/engine_sizing.hpp>

#include "admin_views.hpp"
#include "dashboard.hpp"
#include "metrics_text.hpp"
#include "recent_events.hpp"
#include "runtime_counters.hpp"

namespace capsule::cli {

using nlohmann::json;

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out.empty() ? "-" : out;
}

HttpResponse json_response(int status, const json& body) {
  return {status, "application/json", body.dump()};
}

HttpResponse error_response(const Error& e) {
  int status = 500;
  switch (e.code) {
    case ErrorCode::kInvalidArgument:
      status = 400;
      break;
    case ErrorCode::kNotFound:
      status = 404;
      break;
    case ErrorCode::kAlreadyExists:
      status = 409;
      break;
    case ErrorCode::kPermissionDenied:
      status = 403;
      break;
    case ErrorCode::kTimeout:
      status = 504;
      break;
    case ErrorCode::kUnavailable:
    case ErrorCode::kMailboxFull:
    case ErrorCode::kWouldBlock:
      status = 503;
      break;
    default:
      break;
  }
  return json_response(
      status, json{{"ok", false},
                   {"error", {{"code", std::string(to_string(e.code))}, {"message", e.message}}}});
}

Result<json> parse_body(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_error(ErrorCode::kInvalidArgument, "request body is not a JSON object");
  return j;
}

Result<std::string> field(const json& j, const char* name) {
  if (!j.contains(name) || !j[name].is_string()) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("missing string field '") + name + "'");
  }
  return j[name].get<std::string>();
}

Result<std::pair<std::string, std::string>> component_name(const json& j) {
  auto name = field(j, "component");
  if (!name) return std::move(name).error();
  const auto slash = name->find('/');
  if (slash == std::string::npos || name->find('/', slash + 1) != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "component must be namespace/name, got '" + *name + "'");
  }
  return std::make_pair(name->substr(0, slash), name->substr(slash + 1));
}

}  // namespace

HostDaemon::HostDaemon(Manifest manifest, std::string admin, Reporter& reporter)
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
    demands.push_back({c.ns + "/" + c.name, instances, c.limits.memory_bytes});
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
  component::RuntimeConfig rc;
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
    kv.bucket = manifest_.host.kv_bucket;
    auto backend = cluster::NatsKvBackend::connect(kv);
    if (!backend) return std::move(backend).error();
    rc.storage = std::shared_ptr<storage::KvBackend>(std::move(*backend));
    storage_where = "nats-kv bucket " + kv.bucket + " at " + cluster_url_;
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
  runtime_ = std::make_unique<component::ComponentRuntime>(*system_, engine_, rc);
  if (bridge_) {
    auto attached = bridge_->attach(*runtime_);
    if (!attached) return std::move(attached).error();
    cluster_attachment_ = std::move(*attached);
    reporter_.info("joined cluster " + manifest_.host.cluster,
                   {{"url", cluster_url_},
                    {"host", manifest_.host.name},
                    {"groups", join(manifest_.host.groups)}});
  }

  reporter_.info("capsule host '" + manifest_.host.name + "' starting " +
                 std::to_string(manifest_.components.size()) + " component(s) from " +
                 manifest_.file.filename().string());
  std::map<std::string, component::ComponentSpec> compiled_specs;  // placed on this host
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
      failover_->add(key, {to_spec(entry, *compiled), entry.subscribe, true});
      continue;
    }
    if (!home) {
      const bool standby = failover_ && !entry.failover.empty() &&
                           cluster::in_any_group(manifest_.host.groups, entry.failover);
      if (standby) failover_->add(key, {to_spec(entry, *compiled), entry.subscribe, false});
      reporter_.info((standby ? "standing by for " : "not starting ") + key,
                     {{"placed_on", join(entry.groups)},
                      {"this_host", join(manifest_.host.groups)},
                      {"failover", join(entry.failover)}});
      continue;
    }
    compiled_specs.emplace(key, to_spec(entry, *compiled));
  }
  // Started in manifest order; a group starts where its first member is declared.
  std::set<std::string> started_groups;
  for (const auto& entry : manifest_.components) {
    auto spec = compiled_specs.find(entry.ns + "/" + entry.name);
    if (spec == compiled_specs.end()) continue;  // placed elsewhere
    const GroupEntry* group = manifest_.group_of(entry);
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
  dashboard_ = std::make_unique<Dashboard>(
      [this] {
        std::vector<std::string> started;
        {
          std::lock_guard lock(specs_mutex_);
          for (const auto& [key, spec] : specs_) started.push_back(key);
        }
        return dashboard_view(manifest_, *runtime_, failover_.get(), bridge_.get(), *counters_,
                              operator_restarts(), started);
      },
      feed_);
  admin_ = std::make_unique<AdminEndpoints>(reporter_, audit_);
  if (Status s = admin_->open(manifest_.host.data_dir, admin_address_,
                              [this](const HttpRequest& r) { return handle(r); });
      !s) {
    return s;
  }
  if (bridge_) {
    static_cast<void>(bridge_->announce());  // the other hosts can address them now
    if (failover_) failover_->start();
  }
  if (manifest_.http.enabled()) {
    std::map<std::string, std::uint32_t> running;
    for (const auto& [key, spec] : compiled_specs) running.emplace(key, spec.instances);
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
  std::size_t instances = 0;
  for (const auto& [key, spec] : compiled_specs) {
    if (!spec.on_demand) instances += spec.instances;
  }
  reporter_.info("ready: " + std::to_string(compiled_specs.size()) + " component(s), " +
                 std::to_string(instances) + " instance(s); Ctrl-C or SIGTERM to stop");
  return ok();
}

Status HostDaemon::join_cluster_now(component::RuntimeConfig& rc) {
  cluster::BridgeConfig cc;
  cc.url = cluster_url_;
  if (credentials_) {
    cc.user = credentials_->user;
    cc.password = credentials_->password;
  }
  cc.cluster = manifest_.host.cluster;
  cc.host = manifest_.host.name;
  cc.groups = manifest_.host.groups;
  cc.confirm_sends = manifest_.host.confirm_remote_sends;
  auto bridge = cluster::NatsBridge::connect(cc);
  if (!bridge) return std::move(bridge).error();
  bridge_ = *bridge;
  rc.remote = bridge_;
  const bool has_failover =
      std::any_of(manifest_.components.begin(), manifest_.components.end(),
                  [](const ComponentEntry& c) { return !c.failover.empty(); });
  if (!has_failover) return ok();
  std::vector<cluster::PlacementRule> rules;
  rules.reserve(manifest_.components.size());
  for (const auto& c : manifest_.components) rules.push_back({c.ns, c.name, c.groups, c.failover});
  cluster::LeaseConfig lc;
  lc.url = cluster_url_;
  lc.bucket = cluster::lease_bucket(manifest_.host.cluster);
  lc.host = manifest_.host.name;
  lc.user = cc.user;
  lc.password = cc.password;
  lc.duration = cc.heartbeat_interval * cc.missed_heartbeats;  // a dead host's lease lapses then
  auto leases = cluster::LeaseKeeper::connect(lc);
  if (!leases) {
    Error e = std::move(leases).error();
    e.message = "failover needs leases in NATS JetStream KV: " + e.message;
    return e;
  }
  failover_ = std::make_unique<FailoverLoop>(
      bridge_, std::move(*leases),
      cluster::FailoverPlanner(manifest_.host.name, manifest_.host.groups, std::move(rules)),
      reporter_,
      [this](const component::ComponentSpec& spec, const std::vector<std::string>& topics) {
        return start_component_when_free(spec, topics);
      },
      [this](const component::ComponentSpec& spec) {
        static_cast<void>(runtime_->stop(spec.ns, spec.name));
      });
  bridge_->on_cluster_change([this] { failover_->poke(); });
  return ok();
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

Status HostDaemon::start_group(const GroupEntry& group,
                               const std::map<std::string, component::ComponentSpec>& specs) {
  component::SupervisionGroupSpec spec{group.name, group.supervision, {}, group.escalation};
  std::vector<std::vector<std::string>> topics;
  for (const auto& member : group.members) {
    spec.members.push_back(specs.at(member));
    const auto entry =
        std::find_if(manifest_.components.begin(), manifest_.components.end(),
                     [&](const ComponentEntry& e) { return e.ns + "/" + e.name == member; });
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

HttpResponse HostDaemon::handle(const HttpRequest& r) {
  HttpResponse response;
  try {
    response = route(r);
  } catch (const json::exception& e) {
    // A field of the wrong JSON type (e.g. "timeout_ms": "soon") is the client's mistake.
    response = error_response(make_error(
        ErrorCode::kInvalidArgument, r.method + " " + r.path + ": bad request body: " + e.what()));
  }
  admin_->audit(r, response);  // who did what, and how it ended
  return response;
}

HttpResponse HostDaemon::route(const HttpRequest& r) {
  if (r.method == "GET" && r.path == "/metrics")
    return {200, "text/plain; version=0.0.4", metrics()};
  if (auto answer = dashboard_->route(r)) return *answer;
  if (r.method == "GET" && r.path == "/v1/ps") return ps();
  if (r.method == "GET" && r.path == "/v1/health") return health();
  if (r.method == "GET" && r.path == "/v1/hosts") return hosts();
  if (r.method == "POST" && r.path == "/v1/send") return send_or_call(r.body, false);
  if (r.method == "POST" && r.path == "/v1/call") return send_or_call(r.body, true);
  if (r.method == "POST" && r.path == "/v1/stop") return stop_component(r.body);
  if (r.method == "POST" && r.path == "/v1/restart") return restart_component(r.body);
  if (r.method == "POST" && r.path == "/v1/upgrade") return upgrade_component(r.body);
  return json_response(
      404, json{{"ok", false},
                {"error",
                 {{"code", "not found"},
                  {"message", r.method + " " + r.path + " is not an admin endpoint"}}}});
}

HttpResponse HostDaemon::ps() const {
  return json_response(200, ps_view(*runtime_, operator_restarts()));
}

OperatorRestarts HostDaemon::operator_restarts() const {
  std::lock_guard lock(specs_mutex_);
  return operator_restarts_;
}

HttpResponse HostDaemon::health() const {
  json failed = json::array();
  std::size_t running = 0;
  for (const auto& r : runtime_->registry().records()) {
    if (r.ref.alive()) {
      ++running;
    } else {
      failed.push_back(r.id.to_string());
    }
  }
  // 503 while any instance is down for good, so a load balancer or probe notices.
  return json_response(failed.empty() ? 200 : 503,
                       json{{"ok", failed.empty()}, {"running", running}, {"failed", failed}});
}

HttpResponse HostDaemon::hosts() const {
  return json_response(200, hosts_view(manifest_.host, *runtime_, failover_.get(), bridge_.get()));
}

HttpResponse HostDaemon::send_or_call(const std::string& body, bool call) {
  auto j = parse_body(body);
  if (!j) return error_response(j.error());
  auto target_text = field(*j, "target");
  if (!target_text) return error_response(target_text.error());
  auto target = ComponentId::parse(*target_text);
  if (!target) return error_response(target.error());
  auto payload_text = field(*j, "payload");
  if (!payload_text) return error_response(payload_text.error());
  Payload payload = Payload::text(*payload_text);
  if (j->contains("codec") && !(*j)["codec"].is_string()) {
    return error_response(make_error(ErrorCode::kInvalidArgument,
                                     "field 'codec' must be a string (raw, json, cbor, text)"));
  }
  if (j->contains("codec")) {
    auto code = multicodec::code_of((*j)["codec"].get<std::string>());
    if (!code) {
      return error_response(
          make_error(ErrorCode::kInvalidArgument, "unknown codec (use raw, json, cbor, text)"));
    }
    payload.codec = *code;
  }
  if (!call) {
    Status s = runtime_->send(component::ComponentRuntime::host_id(), *target, std::move(payload));
    if (!s) return error_response(s.error());
    return json_response(200, json{{"ok", true}});
  }
  std::uint64_t timeout_ms = 5000;
  if (j->contains("timeout_ms")) {
    const json& t = (*j)["timeout_ms"];
    if (!t.is_number_unsigned() || t.get<std::uint64_t>() == 0 ||
        t.get<std::uint64_t>() > 3'600'000) {
      return error_response(make_error(
          ErrorCode::kInvalidArgument,
          "field 'timeout_ms' must be a whole number of milliseconds from 1 to 3600000, not " +
              t.dump()));
    }
    timeout_ms = t.get<std::uint64_t>();
  }
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  auto reply = runtime_->ask(*target, std::move(payload), timeout).get();
  if (!reply) return error_response(reply.error());
  return json_response(200, json{{"ok", true},
                                 {"codec", std::string(multicodec::name_of(reply->codec))},
                                 {"payload", reply->as_string()}});
}

HttpResponse HostDaemon::stop_component(const std::string& body) {
  auto j = parse_body(body);
  if (!j) return error_response(j.error());
  auto name = component_name(*j);
  if (!name) return error_response(name.error());
  if (Status s = runtime_->stop(name->first, name->second); !s) return error_response(s.error());
  reporter_.info("stopped " + name->first + "/" + name->second + " (admin request)");
  return json_response(200, json{{"ok", true}});
}

HttpResponse HostDaemon::restart_component(const std::string& body) {
  auto j = parse_body(body);
  if (!j) return error_response(j.error());
  auto name = component_name(*j);
  if (!name) return error_response(name.error());
  std::pair<component::ComponentSpec, std::vector<std::string>> spec;
  {
    std::lock_guard lock(specs_mutex_);
    auto it = specs_.find(name->first + "/" + name->second);
    if (it == specs_.end()) {
      return error_response(make_error(
          ErrorCode::kNotFound,
          "no component " + name->first + "/" + name->second + " in this host's manifest"));
    }
    spec = it->second;
  }
  static_cast<void>(runtime_->stop(name->first, name->second));  // may already be stopped
  if (Status s = start_component_when_free(spec.first, spec.second); !s) {
    return error_response(s.error());
  }
  {
    std::lock_guard lock(specs_mutex_);
    ++operator_restarts_[name->first + "/" + name->second];
  }
  reporter_.info("restarted " + name->first + "/" + name->second + " (admin request)");
  return json_response(200, json{{"ok", true}});
}

HttpResponse HostDaemon::upgrade_component(const std::string& body) {
  auto j = parse_body(body);
  if (!j) return error_response(j.error());
  auto name = component_name(*j);
  if (!name) return error_response(name.error());
  auto path = field(*j, "path");
  if (!path) return error_response(path.error());
  // Only files under [host].upgrade_dirs, by their real path (no `..` or symlink escapes); the
  // resolved path is what gets loaded.
  auto file = upgrade_dirs_->admit(*path);
  if (!file) return error_response(file.error());
  auto compiled = engine_->load_file(*file);
  if (!compiled) return error_response(compiled.error());
  std::vector<std::future<Status>> pending;
  for (const auto& r : runtime_->registry().records()) {
    if (r.id.ns != name->first || r.id.name != name->second) continue;
    auto done = std::make_shared<std::promise<Status>>();
    pending.push_back(done->get_future());
    // The control lane: an upgrade is not refused because the instance is busy with data.
    Status s = r.ref.send_control(
        component::ComponentEnvelope{component::ComponentEnvelope::Upgrade{*compiled, done}});
    if (!s) return error_response(s.error());
  }
  if (pending.empty()) {
    return error_response(make_error(
        ErrorCode::kNotFound, "no running instances of " + name->first + "/" + name->second));
  }
  for (auto& f : pending) {
    if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      return error_response(make_error(ErrorCode::kTimeout, "upgrade did not finish within 30 s"));
    }
    if (Status s = f.get(); !s) return error_response(s.error());
  }
  {
    std::lock_guard lock(specs_mutex_);
    auto it = specs_.find(name->first + "/" + name->second);
    if (it != specs_.end()) it->second.first.component = *compiled;
  }
  reporter_.info("upgraded " + name->first + "/" + name->second,
                 {{"wasm", (*compiled)->name()}, {"instances", std::to_string(pending.size())}});
  return json_response(200, json{{"ok", true}, {"instances", pending.size()}});
}

std::string HostDaemon::metrics() const {
  MetricsSnapshot snapshot;
  snapshot.instances = runtime_->registry().records();
  snapshot.activations = runtime_->activation_stats();
  snapshot.requests = runtime_->correlation_stats();
  snapshot.latency = runtime_->request_latency();
  snapshot.failed_messages = runtime_->failed_messages();
  snapshot.actors = system_->actor_count();
  snapshot.engine = engine_->stats();
  snapshot.default_memory_limit_bytes = engine_->config().default_limits.memory_bytes;
  if (http_) snapshot.http = http_->stats();
  if (bridge_) {
    snapshot.cluster =
        MetricsSnapshot::Cluster{bridge_->stats(), bridge_->connected(), bridge_->hosts().size()};
  }
  return render_metrics(snapshot, *counters_);
}

}  // namespace capsule::cli
