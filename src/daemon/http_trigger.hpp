#pragma once

#include <map>
#include <memory>
#include <string>
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
  [[nodiscard]] unsigned short port() const { return port_; }
  [[nodiscard]] HttpTriggerSnapshot stats() const;

 private:
  struct Route {
    HttpRoute route;
    std::unique_ptr<HttpRouteCounters> counters;
  };
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
  HttpRouteCounters unrouted_{"", ""};
  std::unique_ptr<TriggerHttpServer> server_;
  std::thread thread_;
  std::atomic<bool> loop_ended_{false};
  std::atomic<bool> stopped_{false};
  unsigned short port_ = 0;
};

}  // namespace capsule::daemon
