// The HTTP trigger's wasi:http/proxy routes (docs/http.md, "wasi:http/proxy components"): made
// from their [[http.route]] entries when the trigger starts, and started afresh by an operator
// (`capsule restart /boom`, POST /v1/restart) - the way back for a route that gave up.
#include "http_trigger.hpp"
#include "proxy_route.hpp"

namespace capsule::daemon {
namespace {

std::string name_of(const manifest::HttpRouteEntry& e) {
  return e.ns + "/" + e.name;
}

}  // namespace

Result<std::shared_ptr<ProxyRouteHandler>> HttpTrigger::make_proxy_route(
    const manifest::HttpRouteEntry& entry, component::ComponentRuntime& runtime) {
  const std::string where = "http route " + entry.path + " (line " + std::to_string(entry.line) +
                            "): " + entry.wasm.string();
  auto component = runtime.engine().load_file(entry.wasm);
  if (!component) {
    Error e = std::move(component).error();
    e.message = where + ": " + e.message;
    return e;
  }
  if ((*component)->kind() != wasm::ComponentKind::kHttpProxy) {
    return make_error(ErrorCode::kInvalidArgument,
                      where +
                          " is a capsule:core component, not a wasi:http/proxy one: start it as a "
                          "[[component]] and route to it with component = \"ns/name\"");
  }
  // Its instances check, log and store as the component ns/name: registered like one.
  if (Status s = runtime.register_detached(entry.ns, entry.name, entry.permissions); !s) {
    Error e = std::move(s).error();
    e.message = where + ": " + e.message;
    return e;
  }
  ProxyRouteHandler::Options o;
  o.target = entry.wasm.filename().string();
  o.ns = entry.ns;
  o.name = entry.name;
  o.instances = entry.instances;
  o.reuse = entry.reuse;
  o.limits.memory_bytes = entry.memory_bytes;
  // Each call's wall time (the handler sets it too): the host bindings bound a messaging.call's
  // wait by it.
  o.limits.wall_time_per_call = entry.request_timeout;
  o.outgoing_allowed_hosts = entry.outgoing;
  o.timeout = entry.request_timeout;
  o.route = entry.path;
  o.max_restarts = entry.max_restarts;
  o.restart_window = entry.restart_window;
  // One error line when the route gives up, worded as a supervisor's ("supervisor gave up").
  o.on_give_up = [&reporter = reporter_, route = entry.path, name = name_of(entry),
                  wasm = o.target](const std::string& intensity, const std::string& last) {
    reporter.error("http route gave up: " + route + " (" + name +
                       ") answers 503 until `capsule restart " + route + "`",
                   {{"route", route},
                    {"component", name},
                    {"wasm", wasm},
                    {"intensity", intensity},
                    {"reason", last}});
  };
  o.host = [&runtime, limits = o.limits, config = entry.config](const ComponentId& id) {
    return runtime.detached_host(id, limits, config);
  };
  return std::make_shared<ProxyRouteHandler>(runtime.engine(), std::move(*component), std::move(o));
}

Result<RouteRestart> HttpTrigger::restart_route(std::string_view which, const std::string& by) {
  const manifest::HttpRouteEntry* entry = route_named(which);
  if (entry == nullptr) {
    return make_error(ErrorCode::kNotFound, "no HTTP route " + std::string(which) +
                                                " on this host (its routes: " + route_list() + ")");
  }
  if (entry->static_body) {
    return make_error(ErrorCode::kInvalidArgument,
                      "http route " + entry->path +
                          " is answered by the host itself (static): it has nothing to restart");
  }
  const auto it = proxies_.find(entry->path);
  if (it == proxies_.end()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "http route " + entry->path + " sends its requests to the component " +
                          entry->component + ": restart that (capsule restart " + entry->component +
                          ")");
  }
  const ProxyRouteHandler::Restart r = it->second->restart();
  RouteRestart out{entry->path, name_of(*entry), r.gave_up, r.idle_dropped, r.busy};
  reporter_.info("http route restarted: " + out.route + " (" + out.name + ") by " + by +
                     (out.gave_up.empty() ? "" : "; it had given up, it serves again"),
                 {{"route", out.route},
                  {"component", out.name},
                  {"by", by},
                  {"was", out.gave_up.empty() ? "running" : "failed: " + out.gave_up},
                  {"idle_dropped", std::to_string(out.idle_dropped)},
                  {"busy", std::to_string(out.busy)}});
  return out;
}

const manifest::HttpRouteEntry* HttpTrigger::route_named(std::string_view which) const {
  for (const auto& e : section_.routes) {
    if (e.path == which || (!e.wasm.empty() && name_of(e) == which)) return &e;
  }
  return nullptr;
}

bool HttpTrigger::names_a_route(std::string_view which) const {
  return route_named(which) != nullptr;
}

std::string HttpTrigger::route_list() const {
  std::string out;
  for (const auto& e : section_.routes) {
    if (!out.empty()) out += ", ";
    out += e.path + " (" +
           (e.static_body     ? "static"
            : !e.wasm.empty() ? name_of(e)
                              : "-> " + e.component) +
           ")";
  }
  return out.empty() ? "none" : out;
}

}  // namespace capsule::daemon
