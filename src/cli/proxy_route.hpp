#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <capsule/wasm/engine.hpp>

#include "http_routes.hpp"

namespace capsule::cli {

// Serves a route with a wasi:http/proxy component (Spin's and `wasmtime serve`'s kind): each
// request is one call of its `wasi:http/incoming-handler.handle` on an instance of a small pool.
// An instance serves one request at a time and, with `reuse`, is kept for the next (its memory
// persists, as with `wasmtime serve --max-instance-reuse-count`); one that failed (trap, limit) is
// dropped and a fresh one instantiated. Without `reuse` every request gets a fresh instance (no
// state leaks from one request to the next: `wasmtime serve`'s default for wasip2 components).
//
// The call runs on the connection thread that read the request, as `wasmtime serve` runs it on
// the task that serves the connection: no hand-off to another thread and back (two context
// switches per request, a third of the C hello's time on 2 cores; docs/benchmarks.md). It is
// safe to block that thread because the wait is bounded: at most `timeout` for one of the
// `instances` slots (then 504), then the call's wall time (= `timeout`, every host wait
// included; then 504). Never on a scheduler worker.
class ProxyRouteHandler final : public RouteHandler {
 public:
  struct Options {
    std::string target;  // the `component` label of metrics and error bodies: the file name
    std::uint32_t instances = 4;  // requests served at once, and instances alive
    bool reuse = true;
    ResourceLimits limits;  // per request; wall time = the route's timeout
    std::vector<std::string> outgoing_allowed_hosts;
    std::chrono::milliseconds timeout{30'000};
  };

  // `engine` outlives the handler (the trigger stops before the runtime that owns it).
  // Destroyed once no handle() runs: the trigger drains its connections first.
  ProxyRouteHandler(wasm::WasmEngine& engine,
                    std::shared_ptr<const wasm::CompiledComponent> component, Options options);
  ~ProxyRouteHandler() override;
  ProxyRouteHandler(const ProxyRouteHandler&) = delete;
  ProxyRouteHandler& operator=(const ProxyRouteHandler&) = delete;

  void handle(HttpTriggerRequest request, Done done) override;
  [[nodiscard]] const std::string& target() const override { return options_.target; }
  [[nodiscard]] std::chrono::milliseconds timeout() const override { return options_.timeout; }

 private:
  [[nodiscard]] HttpTriggerResponse serve(const HttpTriggerRequest& request);
  [[nodiscard]] Result<std::unique_ptr<wasm::HttpProxyInstance>> take_instance();
  void give_back(std::unique_ptr<wasm::HttpProxyInstance> instance);

  wasm::WasmEngine& engine_;
  std::shared_ptr<const wasm::CompiledComponent> component_;
  Options options_;
  std::mutex mutex_;
  std::condition_variable freed_;  // a slot was given back
  std::uint32_t running_ = 0;      // calls in progress: at most options_.instances
  std::vector<std::unique_ptr<wasm::HttpProxyInstance>> idle_;
  std::uint64_t made_ = 0;  // instances instantiated so far: their ids
};

}  // namespace capsule::cli
