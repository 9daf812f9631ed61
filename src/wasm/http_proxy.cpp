// wasi:http/proxy components: an HttpProxyInstance is a ComponentInstanceImpl (store, limits,
// limiter, WASI, host) plus the shim's wasi-http state; each request is a shim call driven by
// the same GuestCall machinery as an actor's calls (fuel, epoch yields, deadline, failures).

#include <string>
#include <utility>
#include <vector>

#include <capsule/wasm/engine.hpp>
#include <capsule/wasm/http_proxy.hpp>

#include "engine_internal.hpp"
#include "shim_http.hpp"

namespace capsule::wasm {

namespace detail {

struct HttpProxyInstanceImpl {
  std::unique_ptr<ComponentInstanceImpl> inst;
  shim::HttpState state;  // borrowed by every call made on `inst`: declared after it, freed first
  std::uint64_t max_response_bytes = 0;
};

}  // namespace detail

namespace {

using detail::HttpProxyInstanceImpl;
using detail::LifecycleExport;

GuestCall start_http_call(HttpProxyInstanceImpl& p, const HttpRequest& request) {
  auto* state = p.state.get();
  return detail::start_call(*p.inst, LifecycleExport::kHttpHandle, [&](wasmtime_context_t* cx) {
    std::vector<capsule_http_header_t> headers;
    headers.reserve(request.headers.size());
    for (const auto& h : request.headers) {
      headers.push_back({shim::bytes_of(h.name), shim::bytes_of(h.value)});
    }
    const capsule_http_request_t r{
        .method = shim::bytes_of(request.method),
        .scheme = shim::bytes_of(request.scheme),
        .authority = shim::bytes_of(request.authority),
        .path_with_query = shim::bytes_of(request.path_with_query),
        .headers = headers.data(),
        .header_count = headers.size(),
        .body = {request.body.data(), request.body.size()},
    };
    // The shim copies the request before it returns: nothing here needs to outlive it.
    return capsule_http_handle(state, cx, &r);
  });
}

}  // namespace

// -- HttpCall -------------------------------------------------------------------------------------

HttpCall::HttpCall(GuestCall call, detail::HttpProxyInstanceImpl* inst)
    : call_(std::move(call)), inst_(inst), started_(call_.impl().call != nullptr) {
  if (call_.ready()) finish();
}
HttpCall::~HttpCall() = default;
HttpCall::HttpCall(HttpCall&&) noexcept = default;
HttpCall& HttpCall::operator=(HttpCall&&) noexcept = default;

GuestCall::State HttpCall::poll(const std::shared_ptr<CallWaker>& waker) {
  const auto state = call_.poll(waker);
  if (state == GuestCall::State::kReady) finish();
  return state;
}
bool HttpCall::ready() const noexcept {
  return call_.ready();
}
std::chrono::steady_clock::time_point HttpCall::deadline() const noexcept {
  return call_.deadline();
}
void HttpCall::expire() {
  call_.expire();
  finish();
}

void HttpCall::finish() {
  if (finished_ || !started_) return;
  finished_ = true;
  capsule_http_response_t r{};
  (void)capsule_http_response(inst_->state.get(), &r);
  for (std::size_t i = 0; i < r.denied_count; ++i) {
    capsule_bytes_t text{};
    if (!capsule_http_denied(inst_->state.get(), i, &text)) break;
    denied_.emplace_back(shim::view_of(text));
    inst_->inst->host->log(LogLevel::kWarn,
                           "outgoing HTTP request denied: " + denied_.back() +
                               " is not in the component's allowed hosts",
                           {{"component", inst_->inst->id.to_string()}});
  }
}

Result<HttpResponse> HttpCall::response() const {
  if (!call_.ready()) {
    return make_error(ErrorCode::kUnavailable, "the request to " + inst_->inst->id.to_string() +
                                                   " is still in flight: poll it until ready");
  }
  if (Status s = call_.status(); !s) {
    Error e = std::move(s).error();
    // A guest that fails after a refused request usually fails because of it: say so.
    if (!denied_.empty()) {
      e.message += " (after an outgoing HTTP request was denied: " + denied_[0] + ")";
    }
    return e;
  }
  capsule_http_response_t r{};
  const bool has_response = started_ && capsule_http_response(inst_->state.get(), &r);
  if (!has_response) {
    return make_error(ErrorCode::kInternal, "component " + inst_->inst->id.to_string() +
                                                " finished a request without a response");
  }
  HttpResponse out;
  out.status = r.status;
  out.body.assign(r.body.ptr, r.body.ptr + r.body.len);
  out.headers.reserve(r.header_count);
  for (std::size_t i = 0; i < r.header_count; ++i) {
    capsule_bytes_t name{};
    capsule_bytes_t value{};
    if (capsule_http_response_header(inst_->state.get(), i, &name, &value)) {
      out.headers.push_back({std::string(shim::view_of(name)), std::string(shim::view_of(value))});
    }
  }
  out.denied_outgoing = denied_;
  return out;
}

// -- HttpProxyInstance ----------------------------------------------------------------------------

HttpProxyInstance::HttpProxyInstance(std::unique_ptr<HttpProxyInstanceImpl> impl)
    : impl_(std::move(impl)) {}
HttpProxyInstance::~HttpProxyInstance() = default;
HttpProxyInstance::HttpProxyInstance(HttpProxyInstance&&) noexcept = default;
HttpProxyInstance& HttpProxyInstance::operator=(HttpProxyInstance&&) noexcept = default;

HttpCall HttpProxyInstance::start_handle(const HttpRequest& request) {
  return {start_http_call(*impl_, request), impl_.get()};
}

Result<HttpResponse> HttpProxyInstance::handle(const HttpRequest& request) {
  GuestCall call = start_http_call(*impl_, request);
  run_to_completion(call);
  return HttpCall(std::move(call), impl_.get()).response();
}

const ComponentId& HttpProxyInstance::id() const {
  return impl_->inst->id;
}
const ResourceLimits& HttpProxyInstance::limits() const {
  return impl_->inst->limits;
}
std::uint64_t HttpProxyInstance::max_response_bytes() const {
  return impl_->max_response_bytes;
}
bool HttpProxyInstance::failed() const {
  return impl_->inst->failure.has_value();
}
bool HttpProxyInstance::busy() const {
  return impl_->inst->call_in_flight;
}
CallStats HttpProxyInstance::stats() const {
  return impl_->inst->stats;
}
std::uint64_t HttpProxyInstance::outgoing_denied_total() const {
  return capsule_http_denied_total(impl_->state.get());
}

// -- WasmEngine::instantiate_http_proxy -----------------------------------------------------------

Result<HttpProxyInstance> WasmEngine::instantiate_http_proxy(const CompiledComponent& component,
                                                             HttpProxyOptions options) {
  const auto& compiled = component.impl();
  if (compiled.kind != ComponentKind::kHttpProxy) {
    return make_error(ErrorCode::kIncompatible,
                      "component '" + compiled.name +
                          "' does not export wasi:http/incoming-handler@0.2.x: it is not a "
                          "wasi:http/proxy component");
  }
  auto prepared = detail::prepare_instance(*impl_, compiled, std::move(options.id), options.limits,
                                           std::move(options.host));
  if (!prepared) return std::move(prepared).error();
  auto p = std::make_unique<HttpProxyInstanceImpl>();
  p->inst = std::move(*prepared);
  p->max_response_bytes =
      options.max_response_bytes != 0 ? options.max_response_bytes : kDefaultMaxHttpResponseBytes;
  std::vector<capsule_bytes_t> allowed;
  allowed.reserve(options.outgoing_allowed_hosts.size());
  for (const auto& host : options.outgoing_allowed_hosts) allowed.push_back(shim::bytes_of(host));
  p->state.reset(capsule_http_state_new(p->max_response_bytes, allowed.data(), allowed.size()));
  if (!p->state) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "an allowed outgoing host of " + p->inst->id.to_string() + " is not valid UTF-8");
  }
  auto* state = p->state.get();
  auto call =
      detail::start_call(*p->inst, LifecycleExport::kInstantiate, [&](wasmtime_context_t* cx) {
        return capsule_http_instantiate(compiled.side->proxy_linker.capi(), cx,
                                        compiled.component.capi(), state);
      });
  run_to_completion(call);
  if (Status s = call.status(); !s) {
    Error e = std::move(s).error();
    if (e.code == ErrorCode::kInternal) {
      e.code = ErrorCode::kIncompatible;  // linking, not the guest: a missing or mistyped import
      e.message = "instantiating wasi:http/proxy component " + p->inst->id.to_string() + " (" +
                  compiled.name + "): " + std::string(shim::view_of(call.impl().result.data));
    }
    return e;
  }
  p->inst->stats = {};  // instantiation is not one of the instance's requests
  impl_->instances_created.fetch_add(1, std::memory_order_relaxed);
  return HttpProxyInstance(std::move(p));
}

}  // namespace capsule::wasm
