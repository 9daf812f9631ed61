// The admin API's routes (docs/cli.md, "Admin API"): what each request does to the running host,
// and the JSON it answers. AdminEndpoints (admin_endpoints.cpp) guards the listeners and audits.
#include <future>
#include <nlohmann/json.hpp>
#include <optional>

#include "admin_views.hpp"
#include "dashboard.hpp"
#include "host_daemon.hpp"
#include "metrics_text.hpp"
#include "runtime_counters.hpp"

namespace capsule::daemon {

using nlohmann::json;

namespace {

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

Status HostDaemon::open_admin_api() {
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
  return admin_->open(manifest_.host.data_dir, admin_address_,
                      [this](const HttpRequest& r) { return handle(r); });
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
  if (r.method == "POST" && r.path == "/v1/restart") {
    return restart_component(r.body, caller_of(r, true));
  }
  if (r.method == "POST" && r.path == "/v1/upgrade") return upgrade_component(r.body);
  return json_response(
      404, json{{"ok", false},
                {"error",
                 {{"code", "not found"},
                  {"message", r.method + " " + r.path + " is not an admin endpoint"}}}});
}

HttpResponse HostDaemon::ps() const {
  json view = ps_view(*runtime_, operator_restarts());
  view["routes"] = routes_view(http_ ? http_->stats() : HttpTriggerSnapshot{});
  return json_response(200, view);
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
  // A wasi:http/proxy route that gave up is down too (until `capsule restart` of it).
  json failed_routes = json::array();
  if (http_) {
    for (const auto& r : http_->stats().routes) {
      if (r.pool && !r.pool->gave_up.empty()) {
        failed_routes.push_back(
            json{{"route", r.route}, {"name", r.pool->name}, {"reason", r.pool->gave_up}});
      }
    }
  }
  const bool healthy = failed.empty() && failed_routes.empty();
  // 503 while any instance is down for good, so a load balancer or probe notices.
  return json_response(healthy ? 200 : 503, json{{"ok", healthy},
                                                 {"running", running},
                                                 {"failed", failed},
                                                 {"failed_routes", failed_routes}});
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
    Status s = runtime_->send(component::ComponentRuntime::privileged_caller(), *target,
                              std::move(payload));
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

HttpResponse HostDaemon::restart_component(const std::string& body, const std::string& by) {
  auto j = parse_body(body);
  if (!j) return error_response(j.error());
  // A wasi:http/proxy route by its path: {"route": "/boom"} (`capsule restart /boom`).
  if (j->contains("route") || j->value("component", std::string()).starts_with('/')) {
    auto route = field(*j, j->contains("route") ? "route" : "component");
    if (!route) return error_response(route.error());
    return restart_route(*route, by);
  }
  auto name = component_name(*j);
  if (!name) return error_response(name.error());
  const std::string key = name->first + "/" + name->second;
  std::optional<std::pair<component::ComponentSpec, std::vector<std::string>>> spec;
  std::string components;  // this host's, for the error
  {
    std::lock_guard lock(specs_mutex_);
    if (auto it = specs_.find(key); it != specs_.end()) spec = it->second;
    for (const auto& [started, unused] : specs_) {
      components += (components.empty() ? "" : ", ") + started;
    }
  }
  if (!spec) {
    // Or a route by its instances' name, which no [[component]] shares.
    if (http_ && http_->names_a_route(key)) return restart_route(key, by);
    return error_response(make_error(
        ErrorCode::kNotFound,
        "no component or HTTP route " + key +
            " in this host's manifest (components: " + (components.empty() ? "none" : components) +
            "; HTTP routes: " + (http_ ? http_->route_list() : "none") + ")"));
  }
  static_cast<void>(runtime_->stop(name->first, name->second));  // may already be stopped
  if (Status s = start_component_when_free(spec->first, spec->second); !s) {
    return error_response(s.error());
  }
  {
    std::lock_guard lock(specs_mutex_);
    ++operator_restarts_[key];
  }
  reporter_.info("restarted " + key + " (admin request)", {{"by", by}});
  return json_response(200, json{{"ok", true}});
}

HttpResponse HostDaemon::restart_route(const std::string& which, const std::string& by) {
  if (!http_) {
    return error_response(make_error(ErrorCode::kNotFound,
                                     "no HTTP route " + which + ": this host has no [http] table"));
  }
  auto r = http_->restart_route(which, by);
  if (!r) return error_response(r.error());
  return json_response(200, json{{"ok", true},
                                 {"route", r->route},
                                 {"name", r->name},
                                 {"was", r->gave_up.empty() ? "running" : "failed"},
                                 {"gave_up", r->gave_up},
                                 {"idle_dropped", r->idle_dropped},
                                 {"busy", r->busy}});
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

}  // namespace capsule::daemon
