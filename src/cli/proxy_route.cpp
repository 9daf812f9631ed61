#include "proxy_route.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace capsule::cli {

ProxyRouteHandler::ProxyRouteHandler(wasm::WasmEngine& engine,
                                     std::shared_ptr<const wasm::CompiledComponent> component,
                                     Options options)
    : engine_(engine), component_(std::move(component)), options_(std::move(options)) {
  options_.instances = std::max<std::uint32_t>(options_.instances, 1);
  options_.limits.wall_time_per_call = options_.timeout;
}

ProxyRouteHandler::~ProxyRouteHandler() {
  std::unique_lock lock(mutex_);
  freed_.wait(lock, [this] { return running_ == 0; });  // none: kept for safety
}

void ProxyRouteHandler::handle(HttpTriggerRequest request, Done done) {
  {
    std::unique_lock lock(mutex_);
    if (!freed_.wait_for(lock, options_.timeout,
                         [this] { return running_ < options_.instances; })) {
      done(http_error(504, target(), "timeout",
                      "all " + std::to_string(options_.instances) + " instances busy for " +
                          std::to_string(options_.timeout.count()) + " ms"));
      return;
    }
    ++running_;
  }
  HttpTriggerResponse answer = serve(request);
  {
    const std::lock_guard lock(mutex_);
    --running_;
  }
  // One waiter: each freed slot admits one request (notify_all would wake every waiting
  // connection thread, at 64 connections 63 of them for nothing).
  freed_.notify_one();
  done(std::move(answer));
}

Result<std::unique_ptr<wasm::HttpProxyInstance>> ProxyRouteHandler::take_instance() {
  std::uint64_t number = 0;
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto instance = std::move(idle_.back());
      idle_.pop_back();
      return instance;
    }
    number = made_++;
  }
  wasm::HttpProxyOptions o;
  o.id = ComponentId{"http", component_->name(), std::to_string(number)};
  o.limits = options_.limits;
  o.outgoing_allowed_hosts = options_.outgoing_allowed_hosts;
  auto instance = engine_.instantiate_http_proxy(*component_, std::move(o));
  if (!instance) return std::move(instance).error();
  return std::make_unique<wasm::HttpProxyInstance>(std::move(*instance));
}

void ProxyRouteHandler::give_back(std::unique_ptr<wasm::HttpProxyInstance> instance) {
  // A trap or limit: the next request gets a fresh one. Without reuse it goes here, on the
  // route's thread, so the next request never waits for its memory to be returned.
  if (!options_.reuse || instance->failed()) return;
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(instance));
}

HttpTriggerResponse ProxyRouteHandler::serve(const HttpTriggerRequest& request) {
  auto instance = take_instance();
  if (!instance) {
    const Error& e = instance.error();
    return http_error(http_status_of(e.code), target(), "instantiate", e.describe());
  }
  wasm::HttpRequest in;
  in.method = request.method;
  in.path_with_query = request.query.empty() ? request.path : request.path + "?" + request.query;
  for (const auto& [name, value] : request.headers) {
    if (name == "Host" || name == "host") in.authority = value;
    in.headers.push_back({name, value});
  }
  in.body.assign(request.body.begin(), request.body.end());
  auto out = (*instance)->handle(in);
  give_back(std::move(*instance));
  if (!out) {
    const Error& e = out.error();
    // A response over the limit is the guest's fault, not an overload: 500, not 503. The wall
    // time is the route's timeout, so running out of it is the route's 504.
    int status = http_status_of(e.code);
    if (e.code == ErrorCode::kQuotaExceeded) status = 500;
    if (e.code == ErrorCode::kInterrupted) status = 504;
    return http_error(status, target(), std::string(to_string(e.code)), e.describe());
  }
  HttpTriggerResponse r;
  r.status = out->status;
  r.content_type.clear();
  for (auto& h : out->headers) {
    if (h.name == "content-type" || h.name == "Content-Type") {
      r.content_type = h.value;
    } else {
      r.headers.emplace_back(std::move(h.name), std::move(h.value));
    }
  }
  if (r.content_type.empty()) r.content_type = "application/octet-stream";
  r.body.assign(out->body.begin(), out->body.end());
  return r;
}

}  // namespace capsule::cli
