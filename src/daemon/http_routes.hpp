#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <capsule/core/result.hpp>

namespace capsule::daemon {

// One HTTP request as a route handler sees it: fully read (head and body) and within limits.
struct HttpTriggerRequest {
  std::string method;
  std::string path;   // decoded, without the query
  std::string query;  // raw, without '?'
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;
};

struct HttpTriggerResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // More response headers (a wasi:http handler sets its own; capsule:core replies have none).
  // Content-Length, Connection and Keep-Alive are the server's and are not taken from here.
  std::vector<std::pair<std::string, std::string>> headers;
};

// A wasi:http/proxy route's pool of instances right now (GET /v1/ps "routes", /metrics).
struct ProxyPoolStats {
  std::string name;                // "ns/name": what its instances are ("ns/name/<n>")
  std::uint32_t size = 0;          // instances at most (requests served at once)
  bool reuse = true;               // an instance serves request after request
  std::size_t idle = 0;            // instantiated, waiting for a request
  std::uint32_t busy = 0;          // serving a request now
  std::uint32_t queued = 0;        // waiting for an instance
  std::uint64_t instantiated = 0;  // instantiations since the host started (tried)
  std::uint64_t failed = 0;        // dropped after a trap or a limit
  std::uint64_t restarts = 0;      // by an operator (`capsule restart`), since the host started
  // Empty while the route serves; once its instances failed more often than its restart
  // intensity allows, why it gave up (it answers 503 from then on, until `capsule restart`).
  std::string gave_up;
};

// What serves the requests of one route. The trigger calls handle() on a connection thread and
// waits for `done` there; a handler must not block the thread on its own work but call `done`
// (exactly once, from any thread: a scheduler worker included) when the outcome is known, and
// within timeout() (the trigger answers 504 itself a little after it). capsule:core components
// are served by ComponentRouteHandler; a wasi:http/proxy handler plugs in the same way.
class RouteHandler {
 public:
  using Done = std::function<void(HttpTriggerResponse)>;
  virtual ~RouteHandler() = default;
  virtual void handle(HttpTriggerRequest request, Done done) = 0;
  // "demo/hello" or "static": the `component` label of metrics and error bodies.
  [[nodiscard]] virtual const std::string& target() const = 0;
  [[nodiscard]] virtual std::chrono::milliseconds timeout() const = 0;
  // A route served by a pool of instances of its own says how it stands; others have none.
  [[nodiscard]] virtual std::optional<ProxyPoolStats> pool() const { return std::nullopt; }
};

// The host's own answer, a fixed body: the baseline of the HTTP benchmarks (the server's cost
// without any component) and a liveness probe.
class StaticRouteHandler final : public RouteHandler {
 public:
  explicit StaticRouteHandler(std::string body) : body_(std::move(body)) {}
  void handle(HttpTriggerRequest request, Done done) override;
  [[nodiscard]] const std::string& target() const override { return target_; }
  [[nodiscard]] std::chrono::milliseconds timeout() const override {
    return std::chrono::milliseconds(1000);
  }

 private:
  std::string body_;
  std::string target_ = "static";
};

// One route: a path prefix, its handler and its body limit.
struct HttpRoute {
  std::string prefix;
  std::uint64_t max_body_bytes = 0;
  std::shared_ptr<RouteHandler> handler;
};

// Path prefix -> route, longest prefix first, on segment boundaries: "/hello" matches "/hello"
// and "/hello/x" but not "/helloworld"; "/" matches every path.
class RouteTable {
 public:
  void add(HttpRoute route);
  [[nodiscard]] const HttpRoute* match(std::string_view path) const;
  [[nodiscard]] const std::vector<HttpRoute>& routes() const { return routes_; }

 private:
  std::vector<HttpRoute> routes_;  // longest prefix first
};

// The status an outcome of a component maps to: timeout 504; full mailbox, overload or a
// stopped component 503; trap or limit 500; denied 403; a malformed request 400.
[[nodiscard]] int http_status_of(ErrorCode code);

// {"ok":false,"status":504,"component":"demo/slow","error":"timeout","message":"..."}.
[[nodiscard]] HttpTriggerResponse http_error(int status, std::string_view component,
                                             std::string_view cause, std::string_view message);

}  // namespace capsule::daemon
