#pragma once

#include <asio/thread_pool.hpp>
#include <chrono>
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
// state leaks from one request to the next: `wasmtime serve`'s default for wasip2 components). The
// calls run on the route's own threads, one per instance: never on a connection thread (the trigger
// keeps it to answer 504) nor on a scheduler worker.
class ProxyRouteHandler final : public RouteHandler {
 public:
  struct Options {
    std::string target;  // the `component` label of metrics and error bodies: the file name
    std::uint32_t instances = 4;  // requests served at once: instances alive and threads
    bool reuse = true;
    ResourceLimits limits;  // per request; wall time = the route's timeout
    std::vector<std::string> outgoing_allowed_hosts;
    std::chrono::milliseconds timeout{30'000};
  };

  // `engine` outlives the handler (the trigger stops before the runtime that owns it).
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
  std::vector<std::unique_ptr<wasm::HttpProxyInstance>> idle_;
  std::uint64_t made_ = 0;     // instances instantiated so far: their ids
  asio::thread_pool threads_;  // last: joined before the pool of instances goes
};

}  // namespace capsule::cli
