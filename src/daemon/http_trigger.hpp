#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <capsule/component/component_runtime.hpp>
#include <capsule/core/result.hpp>

#include "http_routes.hpp"
#include "http_trigger_metrics.hpp"
#include "manifest/http_section.hpp"
#include "reporter.hpp"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace capsule::daemon {

class TriggerHttpServer;
class ProxyRouteHandler;

// What `capsule restart` of a route did (HttpTrigger::restart_route).
struct RouteRestart {
  std::string route;    // its path, "/boom"
  std::string name;     // its instances' "ns/name", "web/boom"
  std::string gave_up;  // why it had given up; empty: it was serving
  std::size_t idle_dropped = 0;
  std::uint32_t busy = 0;  // requests in flight: their instances are dropped after the answer
};

// The HTTP trigger ([http] in the manifest, docs/http.md): one HTTP/1.1 listener whose routes
// (path prefix -> RouteHandler) turn requests into requests to components. Limits are enforced
// before a handler runs: head size 431, body size 413 (from Content-Length, before the body is
// read), malformed 400, no route 404, too many connections 503, a stalled client is cut off.
class HttpTrigger {
 public:
  HttpTrigger(manifest::HttpSection section, Reporter& reporter);
  ~HttpTrigger();  // stop()
  HttpTrigger(const HttpTrigger&) = delete;
  HttpTrigger& operator=(const HttpTrigger&) = delete;

  // Routes to the components of `instances` ("ns/name" -> instances running here, 0 for an
  // on-demand component: the path names the instance); a route to a component not running here
  // answers 503. Listens once every route has its handler.
  [[nodiscard]] Status start(component::ComponentRuntime& runtime,
                             const std::map<std::string, std::uint32_t>& instances);
  // Stops accepting, closes idle connections, lets requests in flight finish (each bounded by its
  // route's timeout) and returns once they have been answered.
  void stop();
  // `capsule restart` of a wasi:http/proxy route: `which` is its path ("/boom") or its
  // instances' name ("web/boom"). Its pool starts afresh (ProxyRouteHandler::restart): a route
  // that gave up serves again. Logged with `by` (who asked). Not found: kNotFound naming this
  // host's routes; a static route or one to a [[component]]: kInvalidArgument saying what to do.
  [[nodiscard]] Result<RouteRestart> restart_route(std::string_view which, const std::string& by);
  // Whether `which` is a route's path or a wasi:http/proxy route's name ("ns/name") here.
  [[nodiscard]] bool names_a_route(std::string_view which) const;
  // "/a (web/a), /s (static), /c (-> app/c)": this host's routes, for error messages.
  [[nodiscard]] std::string route_list() const;
  [[nodiscard]] unsigned short port() const { return port_; }
  [[nodiscard]] HttpTriggerSnapshot stats() const;

 private:
  struct Route {
    HttpRoute route;
    std::unique_ptr<HttpRouteCounters> counters;
  };
  // http_proxy_routes.cpp: a wasi:http/proxy route's handler; its component is loaded (and
  // checked to be one) here, so a wrong file fails the start naming the route's line.
  [[nodiscard]] Result<std::shared_ptr<ProxyRouteHandler>> make_proxy_route(
      const manifest::HttpRouteEntry& entry, component::ComponentRuntime& runtime);
  // The route whose path or wasi:http/proxy name `which` is; null: none.
  [[nodiscard]] const manifest::HttpRouteEntry* route_named(std::string_view which) const;
  void configure();
  // Checks a request's head (header size, Content-Length, route, body limit) before its body is
  // read; true: `res` is the refusal, counted, and the connection closes after it.
  bool refused(const httplib::Request& req, httplib::Response& res);
  void serve(const httplib::Request& req, httplib::Response& res);
  [[nodiscard]] const Route* match(const std::string& path) const;

  manifest::HttpSection section_;
  Reporter& reporter_;
  RouteTable table_;
  std::map<std::string, Route> routes_;  // by prefix
  // The wasi:http/proxy routes' handlers (also in routes_), by prefix: what restart_route resets.
  std::map<std::string, std::shared_ptr<ProxyRouteHandler>> proxies_;
  HttpRouteCounters unrouted_{"", ""};
  std::unique_ptr<TriggerHttpServer> server_;
  std::thread thread_;
  std::atomic<bool> loop_ended_{false};
  std::atomic<bool> stopped_{false};
  unsigned short port_ = 0;
};

}  // namespace capsule::daemon
