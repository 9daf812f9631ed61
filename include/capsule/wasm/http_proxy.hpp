#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <capsule/core/component_id.hpp>
#include <capsule/core/limits.hpp>
#include <capsule/core/result.hpp>
#include <capsule/wasm/component_instance.hpp>
#include <capsule/wasm/guest_call.hpp>
#include <capsule/wasm/host_api.hpp>

namespace capsule::wasm {

namespace detail {
struct HttpProxyInstanceImpl;
}

// Header names and values as they travel: values are bytes (not necessarily UTF-8).
struct HttpHeader {
  std::string name;
  std::string value;
};

// One request as an HTTP server received it. The component reads the scheme and authority as
// its request's; the path carries the query ("/a/b?x=1").
struct HttpRequest {
  std::string method = "GET";
  std::string scheme = "http";
  std::string authority = "localhost";
  std::string path_with_query = "/";
  std::vector<HttpHeader> headers;
  std::vector<std::uint8_t> body;
};

struct HttpResponse {
  std::uint16_t status = 0;
  std::vector<HttpHeader> headers;
  std::vector<std::uint8_t> body;
  // Outgoing requests the allow-list refused while this request ran ("GET https://host:port"),
  // at most 8; each was also logged through the instance's HostApi at warn level.
  std::vector<std::string> denied_outgoing;
};

// A response body larger than this fails the request unless the options say otherwise.
inline constexpr std::uint64_t kDefaultMaxHttpResponseBytes = 8ULL << 20;

struct HttpProxyOptions {
  ComponentId id;
  // Per request: memory (per linear memory), fuel, and wall time including every wait in a host
  // call (a sleep, an outgoing request). Zero fields take the engine defaults.
  ResourceLimits limits;
  // Guest stdout/stderr lines, the WASI random policy, the warn line for a denied outgoing
  // request. Null: a StandaloneHostApi for `id`.
  std::shared_ptr<HostApi> host;
  std::uint64_t max_response_bytes = 0;  // 0: kDefaultMaxHttpResponseBytes
  // Hosts this instance may send HTTP requests to: "api.example.com" (any port),
  // "api.example.com:8443", "*.example.com" (subdomains), "*" (any). Empty: none; a denied
  // request fails in the guest with wasi:http's `HTTP-request-denied`.
  std::vector<std::string> outgoing_allowed_hosts;
};

// One request in flight on an HttpProxyInstance, driven like a GuestCall: poll() runs the guest
// until it finishes or waits and returns kPending with `waker` registered; once deadline() has
// passed the owner calls expire(). Never blocks the polling thread. The instance must outlive
// the call; the request need not (it is copied when the call starts).
class HttpCall {
 public:
  HttpCall(GuestCall call, detail::HttpProxyInstanceImpl* inst);
  ~HttpCall();
  HttpCall(HttpCall&&) noexcept;
  HttpCall& operator=(HttpCall&&) noexcept;
  HttpCall(const HttpCall&) = delete;
  HttpCall& operator=(const HttpCall&) = delete;

  [[nodiscard]] GuestCall::State poll(const std::shared_ptr<CallWaker>& waker);
  [[nodiscard]] bool ready() const noexcept;
  [[nodiscard]] std::chrono::steady_clock::time_point deadline() const noexcept;
  void expire();

  // Once ready: the response, or why there is none. Errors name the component and the cause:
  // kTrap, kInterrupted (wall time), kOutOfFuel, kMemoryLimit, kQuotaExceeded (response larger
  // than max_response_bytes), kGuestError (the guest returned without a complete response, or
  // answered with a wasi:http error-code), kInvalidArgument (a malformed request; the guest
  // never ran). After any but the last two the instance is failed(): make a fresh one.
  [[nodiscard]] Result<HttpResponse> response() const;

 private:
  void finish();  // once ready: reads (and logs) the outgoing requests denied during the call

  GuestCall call_;
  detail::HttpProxyInstanceImpl* inst_;
  bool started_ = false;  // the call reached the shim (not refused by a failed or busy instance)
  bool finished_ = false;
  std::vector<std::string> denied_;
};

// A live instance of a wasi:http/proxy component (it exports wasi:http/incoming-handler): its own
// Store under the options' limits, WASI as capsule components get it (no preopens, env or args;
// stdout/stderr to the host log), wasi:http with outgoing requests only to allowed hosts. One
// request at a time; it may take several in turn (instance reuse) until one fails it.
// Not thread-safe: one owner drives it, as with ComponentInstance.
class HttpProxyInstance {
 public:
  explicit HttpProxyInstance(std::unique_ptr<detail::HttpProxyInstanceImpl> impl);
  ~HttpProxyInstance();
  HttpProxyInstance(HttpProxyInstance&&) noexcept;
  HttpProxyInstance& operator=(HttpProxyInstance&&) noexcept;
  HttpProxyInstance(const HttpProxyInstance&) = delete;
  HttpProxyInstance& operator=(const HttpProxyInstance&) = delete;

  // Resumable: see HttpCall.
  [[nodiscard]] HttpCall start_handle(const HttpRequest& request);
  // Drives the request to completion on this thread (tools, tests).
  [[nodiscard]] Result<HttpResponse> handle(const HttpRequest& request);

  [[nodiscard]] const ComponentId& id() const;
  [[nodiscard]] const ResourceLimits& limits() const;
  [[nodiscard]] std::uint64_t max_response_bytes() const;
  [[nodiscard]] bool failed() const;
  [[nodiscard]] bool busy() const;
  [[nodiscard]] CallStats stats() const;
  // Outgoing requests denied over the instance's life.
  [[nodiscard]] std::uint64_t outgoing_denied_total() const;

 private:
  std::unique_ptr<detail::HttpProxyInstanceImpl> impl_;
};

}  // namespace capsule::wasm
