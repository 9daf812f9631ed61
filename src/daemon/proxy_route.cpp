#include "proxy_route.hpp"

#include <algorithm>
#include <asio/post.hpp>
#include <utility>

namespace capsule::daemon {
namespace {

// The options as the handler keeps them: at least one instance (slots and threads), and the
// route's timeout as each call's wall time.
ProxyRouteHandler::Options settled(ProxyRouteHandler::Options options) {
  options.instances = std::max<std::uint32_t>(options.instances, 1);
  options.limits.wall_time_per_call = options.timeout;
  if (options.name.empty()) options.name = options.target;
  if (options.route.empty()) options.route = options.target;
  return options;
}

}  // namespace

ProxyRouteHandler::ProxyRouteHandler(wasm::WasmEngine& engine,
                                     std::shared_ptr<const wasm::CompiledComponent> component,
                                     Options options)
    : engine_(engine),
      component_(std::move(component)),
      options_(settled(std::move(options))),
      threads_(options_.instances) {}

ProxyRouteHandler::~ProxyRouteHandler() {
  threads_.join();  // requests in flight end (each within its wall time) before the instances go
}

void ProxyRouteHandler::handle(HttpTriggerRequest request, Done done) {
  if (auto refusal = refusal_if_down()) return done(std::move(*refusal));
  const std::uint32_t slots = options_.instances;
  {
    std::lock_guard lock(slots_mutex_);
    if (queued_ == 0 && running_ < slots) {
      ++running_;
    } else {
      ++queued_;
      asio::post(threads_, [this, slots, request = std::move(request), done = std::move(done)] {
        {
          // A route thread waits only for calls running on connection threads, each bounded
          // by the route's timeout.
          std::unique_lock wait(slots_mutex_);
          slot_freed_.wait(wait, [&] { return running_ < slots; });
          --queued_;
          ++running_;
        }
        done(serve_on_slot(request));
      });
      return;
    }
  }
  done(serve_on_slot(request));
}

std::optional<HttpTriggerResponse> ProxyRouteHandler::refusal_if_down() const {
  std::lock_guard lock(mutex_);
  if (gave_up_.empty()) return std::nullopt;
  return http_error(503, target(), "route-failed",
                    "http route " + options_.route + " (" + options_.ns + "/" + options_.name +
                        ") is down: " + gave_up_ + " (`capsule restart " + options_.route +
                        "` serves it again)");
}

std::string ProxyRouteHandler::intensity_text() const {
  return std::to_string(options_.max_restarts) + " restarts in " +
         std::to_string(options_.restart_window.count()) + " ms";
}

void ProxyRouteHandler::record_failure(const std::string& why, std::uint64_t generation) {
  std::vector<std::unique_ptr<wasm::HttpProxyInstance>> dropped;  // freed outside the lock
  {
    std::lock_guard lock(mutex_);
    // Given up once, told once; an instance of before a restart does not count against the
    // window the restart opened (the operator restarted the route past that failure).
    if (!gave_up_.empty() || generation != generation_) return;
    const auto now = std::chrono::steady_clock::now();
    while (!recent_failures_.empty() && recent_failures_.front() < now - options_.restart_window) {
      recent_failures_.pop_front();
    }
    recent_failures_.push_back(now);
    if (recent_failures_.size() <= options_.max_restarts) return;
    // As SupervisorNode::restart words it, so one grep finds both kinds of giving up.
    gave_up_ = "gave up: more than " + intensity_text() + "; last failure: " + why;
    dropped.swap(idle_);
  }
  if (options_.on_give_up) options_.on_give_up(intensity_text(), why);
}

HttpTriggerResponse ProxyRouteHandler::serve_on_slot(const HttpTriggerRequest& request) {
  HttpTriggerResponse response = serve(request);
  {
    std::lock_guard lock(slots_mutex_);
    --running_;
  }
  slot_freed_.notify_one();
  return response;
}

ProxyRouteHandler::Restart ProxyRouteHandler::restart() {
  Restart r;
  std::vector<std::unique_ptr<wasm::HttpProxyInstance>> dropped;  // freed outside the lock
  {
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1);
    r.gave_up = std::exchange(gave_up_, {});
    recent_failures_.clear();
    dropped.swap(idle_);
  }
  r.idle_dropped = dropped.size();
  std::lock_guard lock(slots_mutex_);
  r.busy = running_;
  return r;
}

Result<ProxyRouteHandler::Taken> ProxyRouteHandler::take_instance() {
  std::uint64_t number = 0;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    generation = generation_.load();
    if (!idle_.empty()) {
      Taken taken{std::move(idle_.back()), generation};
      idle_.pop_back();
      return taken;
    }
    number = made_++;
  }
  wasm::HttpProxyOptions o;
  o.id = ComponentId{options_.ns, options_.name, std::to_string(number)};
  if (options_.host) o.host = options_.host(o.id);
  o.limits = options_.limits;
  o.outgoing_allowed_hosts = options_.outgoing_allowed_hosts;
  auto instance = engine_.instantiate_http_proxy(*component_, std::move(o));
  if (!instance) return std::move(instance).error();
  return Taken{std::make_unique<wasm::HttpProxyInstance>(std::move(*instance)), generation};
}

void ProxyRouteHandler::give_back(Taken taken) {
  // A trap or limit: the next request gets a fresh one. Without reuse, or made before a
  // restart, it goes here, on the route's thread, so the next request never waits for its
  // memory to be returned.
  if (taken.instance->failed()) {
    std::lock_guard lock(mutex_);
    ++failed_;
    return;
  }
  if (!options_.reuse) return;
  std::lock_guard lock(mutex_);
  if (taken.generation == generation_) idle_.push_back(std::move(taken.instance));
}

std::optional<ProxyPoolStats> ProxyRouteHandler::pool() const {
  ProxyPoolStats s;
  s.name = options_.ns + "/" + options_.name;
  s.size = options_.instances;
  s.reuse = options_.reuse;
  {
    std::lock_guard lock(mutex_);
    s.idle = idle_.size();
    s.instantiated = made_;
    s.failed = failed_;
    s.restarts = generation_.load();
    s.gave_up = gave_up_;
  }
  std::lock_guard lock(slots_mutex_);
  s.busy = running_;
  s.queued = queued_;
  return s;
}

HttpTriggerResponse ProxyRouteHandler::serve(const HttpTriggerRequest& request) {
  // A request queued before the route gave up is refused like the ones after.
  if (auto refusal = refusal_if_down()) return std::move(*refusal);
  std::uint64_t generation = generation_.load();  // a failed instantiation's, below
  auto taken = take_instance();
  if (!taken) {
    const Error& e = taken.error();
    record_failure("instantiation failed: " + e.describe(), generation);
    return http_error(http_status_of(e.code), target(), "instantiate", e.describe());
  }
  generation = taken->generation;
  wasm::HttpRequest in;
  in.method = request.method;
  in.path_with_query = request.query.empty() ? request.path : request.path + "?" + request.query;
  for (const auto& [name, value] : request.headers) {
    if (name == "Host" || name == "host") in.authority = value;
    in.headers.push_back({name, value});
  }
  in.body.assign(request.body.begin(), request.body.end());
  auto out = taken->instance->handle(in);
  const bool failed = taken->instance->failed();
  give_back(std::move(*taken));
  if (failed) record_failure(out ? std::string("failed") : out.error().describe(), generation);
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

}  // namespace capsule::daemon
