#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <capsule/security/capability.hpp>
#include <capsule/wasm/host_api.hpp>

namespace capsule::manifest {

// How a request reaches a capsule:core component (docs/http.md, "What the component sees").
enum class HttpEnvelope : std::uint8_t {
  kBody,  // the payload is the request body, nothing else (the fast path)
  kJson,  // a JSON object: method, path, query, headers and the body as text
};

// One [[http.route]] table: requests whose path starts with `path` (on a segment boundary) go to
// `component`, or are answered with `static_body` by the host itself.
struct HttpRouteEntry {
  std::string path;       // "/hello"; "/" matches everything no longer route matches
  std::string component;  // "ns/name"; empty for a static route
  std::optional<std::string> static_body;
  // A wasi:http/proxy component file (resolved against the manifest's directory), served by a
  // pool of `instances` instances of its own, each under `memory_bytes` (0: the engine's
  // default), sending HTTP only to `outgoing` host patterns (docs/http.md). `reuse`: an instance
  // serves request after request; off, each request gets a fresh one (isolation per request).
  std::filesystem::path wasm;
  std::uint32_t instances = 4;
  bool reuse = true;
  std::uint64_t memory_bytes = 0;
  std::vector<std::string> outgoing;
  // Who its instances are ("ns/name/<n>"; `name = "ns/name"`, default "http/<path>" such as
  // "http/api.v1" for "/api/v1", "http/root" for "/"): their storage space, the key of their
  // [grants."ns/name"] and of their quotas. [http.route.config] is what wasi:config answers,
  // [http.route.capabilities] what they declare (docs/http.md, docs/security.md).
  std::string ns;
  std::string name;
  wasm::KeyValues config;
  security::ComponentPermissions permissions;
  // [http.route.supervision]: the restart intensity of a wasi:http/proxy route (more than
  // `max_restarts` failed instances within `restart_window` and it gives up), with the defaults
  // of a component's supervisor (rt::SupervisorConfig).
  std::uint32_t max_restarts = 3;
  std::chrono::milliseconds restart_window{5000};
  HttpEnvelope envelope = HttpEnvelope::kBody;
  std::uint64_t max_body_bytes = 1 << 20;             // larger: 413, before the body is read
  std::chrono::milliseconds request_timeout{30'000};  // no reply within it: 504
  int line = 0;
};

// The [http] table: one listener for every route, and what a connection may do.
struct HttpSection {
  std::string listen;                         // "127.0.0.1:8080"; empty: no HTTP trigger
  std::size_t max_connections = 64;           // served at once; more get 503 at once
  std::uint64_t max_header_bytes = 16 << 10;  // request line excluded; more: 431
  // A request's head and body must arrive within this from its first byte (slowloris).
  std::chrono::milliseconds read_timeout{5'000};
  std::chrono::milliseconds keep_alive_timeout{5'000};  // an idle kept-alive connection closes
  std::vector<HttpRouteEntry> routes;
  int line = 0;
  [[nodiscard]] bool enabled() const { return !listen.empty(); }
};

}  // namespace capsule::manifest
