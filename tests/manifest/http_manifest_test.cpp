// The [http] table as units: routes, their limits and errors with file:line, and a wasi:http/proxy
// route's name, config, capabilities and grants (docs/http.md). Served end to end by
// e2e.http_trigger, e2e.http_proxy_route and e2e.http_proxy_services.
#include <gtest/gtest.h>
#include <string>
#include <string_view>

#include "parse_text.hpp"

namespace capsule::manifest {
namespace {

using testing::parse_text;

constexpr std::string_view kComponent = R"(
[[component]]
name = "web/hello"
path = "a.wasm"
)";

// The [http] text after one component (lines 1-4), parsed as app.toml.
Result<Manifest> parse(const std::string& http) {
  return parse_text(std::string(kComponent) + http);
}

TEST(HttpManifest, DefaultsAndEveryKey) {
  auto m = parse(R"(
[http]
listen = "127.0.0.1:8080"
max_connections = 10
max_header_bytes = "8KiB"
read_timeout_ms = 100
keep_alive_timeout_ms = 0

[[http.route]]
path = "/hello"
component = "web/hello"
envelope = "json"
max_body = "2MiB"
request_timeout_ms = 250

[[http.route]]
path = "/ok"
static = "ok"

[[http.route]]
path = "/proxy"
wasm = "proxy.wasm"
instances = 3
reuse = false
)");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->http.enabled());
  EXPECT_EQ(m->http.max_connections, 10U);
  EXPECT_EQ(m->http.max_header_bytes, 8U << 10);
  EXPECT_EQ(m->http.read_timeout.count(), 100);
  EXPECT_EQ(m->http.keep_alive_timeout.count(), 0);
  ASSERT_EQ(m->http.routes.size(), 3U);
  EXPECT_EQ(m->http.routes[0].envelope, HttpEnvelope::kJson);
  EXPECT_EQ(m->http.routes[0].max_body_bytes, 2U << 20);
  EXPECT_EQ(m->http.routes[0].request_timeout.count(), 250);
  EXPECT_EQ(m->http.routes[1].static_body, "ok");
  EXPECT_TRUE(m->http.routes[1].reuse);  // the default
  EXPECT_EQ(m->http.routes[2].wasm.filename(), "proxy.wasm");
  EXPECT_EQ(m->http.routes[2].instances, 3U);
  EXPECT_FALSE(m->http.routes[2].reuse);
  EXPECT_FALSE(parse("")->http.enabled());
}

TEST(HttpManifest, ErrorsNameLineAndField) {
  auto error = [](const std::string& http) {
    auto m = parse(http);
    return m ? std::string("accepted") : m.error().message;
  };
  const std::string head = "[http]\nlisten = \"127.0.0.1:0\"\n";  // lines 5 and 6
  EXPECT_EQ(error(head + "[[http.route]]\npath = \"/a\"\nstatic = \"x\"\n[[http.route]]\n"
                         "path = \"/a\"\nstatic = \"y\"\n"),
            "app.toml:10: http.route[1].path: \"/a\" is routed twice (first on line 7)");
  EXPECT_EQ(error(head + "[[http.route]]\npath = \"/a\"\nstatic = \"x\"\nenvelope = \"xml\"\n"),
            "app.toml:10: http.route[0].envelope: expected \"body\" or \"json\"");
  EXPECT_EQ(error(head + "[[http.route]]\npath = \"/a/\"\nstatic = \"x\"\n"),
            "app.toml:8: http.route[0].path: expected an absolute path prefix like \"/hello\" "
            "([A-Za-z0-9/._~-], no trailing slash)");
  EXPECT_EQ(
      error(head + "[[http.route]]\npath = \"/a\"\nstatic = \"x\"\ncomponent = \"web/hello\"\n"),
      "app.toml:7: http.route[0].needs exactly one of component = \"ns/name\", static = "
      "\"text\" or wasm = \"<a wasi:http/proxy component>\"");
  EXPECT_EQ(error(head + "[[http.route]]\npath = \"/a\"\nwasm = \"x.wasm\"\ninstances = 0\n"),
            "app.toml:10: http.route[0].instances: expected a whole number from 1 to 256");
  EXPECT_EQ(error(head + "[[http.route]]\npath = \"/a\"\nwasm = \"x.wasm\"\nreuse = 1\n"),
            "app.toml:10: http.route[0].reuse: expected true or false");
  EXPECT_EQ(error(head + "[[http.route]]\npath = \"/a\"\nwasm = \"x.wasm\"\noutgoing = \"*\"\n"),
            "app.toml:10: http.route[0].outgoing: expected a list of host patterns");
  EXPECT_EQ(error(head + "[[http.route]]\npath = \"/a\"\nstatic = \"x\"\nrequest_timeout_ms = 0\n"),
            "app.toml:10: http.route[0].request_timeout_ms: expected a whole number from 1 to "
            "3600000");
  EXPECT_EQ(error(head + "keep_alive = 1\n[[http.route]]\npath = \"/a\"\nstatic = \"x\"\n"),
            "app.toml:7: http.keep_alive: unknown field (known: listen, max_connections, "
            "max_header_bytes, read_timeout_ms, keep_alive_timeout_ms, route)");
  EXPECT_EQ(error("[http]\nmax_connections = 4\n[[http.route]]\npath = \"/a\"\nstatic = \"x\"\n"),
            "app.toml:5: http.listen: missing (e.g. listen = \"127.0.0.1:8080\")");
  EXPECT_EQ(error(head), "app.toml:5: http: no [[http.route]] tables (at least one route)");
}

// A wasi:http/proxy route's restart intensity: a component supervisor's defaults, its two keys,
// and nothing else (strategy, backoff and escalation have no meaning for a pool).
TEST(HttpManifest, ProxyRouteSupervision) {
  auto m = parse(R"(
[http]
listen = "127.0.0.1:0"

[[http.route]]
path = "/default"
wasm = "proxy.wasm"

[[http.route]]
path = "/strict"
wasm = "proxy.wasm"
  [http.route.supervision]
  max_restarts = 0
  window_ms = 60000
)");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->http.routes[0].max_restarts, 3U);
  EXPECT_EQ(m->http.routes[0].restart_window.count(), 5000);
  EXPECT_EQ(m->http.routes[1].max_restarts, 0U);
  EXPECT_EQ(m->http.routes[1].restart_window.count(), 60000);

  auto error = [](const std::string& route) {
    auto r = parse("[http]\nlisten = \"127.0.0.1:0\"\n[[http.route]]\npath = \"/a\"\n" + route);
    return r ? std::string("accepted") : r.error().message;
  };
  EXPECT_EQ(error("wasm = \"x.wasm\"\nsupervision = { strategy = \"one-for-all\" }\n"),
            "app.toml:10: http.route[0].supervision.strategy: unknown field for a route (known: "
            "max_restarts, window_ms)");
  EXPECT_EQ(error("wasm = \"x.wasm\"\nsupervision = { window_ms = 0 }\n"),
            "app.toml:10: http.route[0].supervision.window_ms: expected a whole number from 1 to "
            "86400000");
  EXPECT_EQ(error("wasm = \"x.wasm\"\nsupervision = 3\n"),
            "app.toml:10: http.route[0].supervision: expected a table (max_restarts, window_ms)");
  EXPECT_EQ(error("static = \"x\"\nsupervision = { max_restarts = 1 }\n"),
            "app.toml:10: http.route[0].supervision: only for a wasi:http/proxy route (wasm = "
            "...); a [[component]] has its own");
}

// A wasi:http/proxy route's identity, config, declared capabilities and grants (docs/http.md,
// "Storage, config and logs").
TEST(HttpManifest, ProxyRouteNameConfigCapabilitiesAndGrants) {
  auto m = parse(R"(
[http]
listen = "127.0.0.1:0"

[[http.route]]
path = "/visits"
wasm = "visits.wasm"
name = "web/visits"
  [http.route.config]
  greeting = "hej"
  limit = 3
  [http.route.capabilities]
  "storage.read" = ["**"]

[[http.route]]
path = "/api/v1~x"
wasm = "visits.wasm"

[[http.route]]
path = "/"
wasm = "visits.wasm"

[grants."web/visits"]
"storage.read" = ["counters/**"]
storage_quota = { keys = 10 }
)");
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_EQ(m->http.routes.size(), 3U);
  const auto& visits = m->http.routes[0];
  EXPECT_EQ(visits.ns + "/" + visits.name, "web/visits");
  EXPECT_EQ(visits.config, (wasm::KeyValues{{"greeting", "hej"}, {"limit", "3"}}));
  ASSERT_EQ(visits.permissions.declared.size(), 1U);
  EXPECT_EQ(visits.permissions.declared[0].target, "**");
  ASSERT_EQ(visits.permissions.granted.size(), 1U);
  EXPECT_EQ(visits.permissions.granted[0].target, "counters/**");
  EXPECT_EQ(visits.permissions.storage_quota.max_keys, 10U);
  // Without a name: "http/" and the path, one id segment.
  EXPECT_EQ(m->http.routes[1].ns + "/" + m->http.routes[1].name, "http/api.v1_x");
  EXPECT_EQ(m->http.routes[2].ns + "/" + m->http.routes[2].name, "http/root");
  EXPECT_TRUE(m->http.routes[2].permissions.granted.empty());
}

TEST(HttpManifest, ProxyRouteNamesAreTheirOwn) {
  auto error = [](const std::string& http) {
    auto m = parse(http);
    return m ? std::string("accepted") : m.error().message;
  };
  const std::string head = "[http]\nlisten = \"127.0.0.1:0\"\n";                   // lines 5 and 6
  const std::string route = "[[http.route]]\npath = \"/a\"\nwasm = \"x.wasm\"\n";  // 7-9
  // Sharing a [[component]]'s name would share its storage space and grants.
  EXPECT_EQ(error(head + route + "name = \"web/hello\"\n"),
            "app.toml:7: http.route[0].name: \"web/hello\" is a [[component]] of this manifest: "
            "a route's instances get a storage space and grants of their own (give it another "
            "name)");
  EXPECT_EQ(error(head + route +
                  "name = \"web/x\"\n[[http.route]]\npath = \"/b\"\n"
                  "wasm = \"x.wasm\"\nname = \"web/x\"\n"),
            "app.toml:11: http.route[1].name: \"web/x\" is also the name of the route on line 7 "
            "(give one of them name = \"ns/name\")");
  // The privileged caller's namespace: no check would apply to it.
  EXPECT_EQ(error(head + route + "name = \"host/x\"\n"),
            "app.toml:10: http.route[0].name: the namespace 'host' is reserved for the host");
  EXPECT_EQ(error(head + route + "name = \"x\"\n"),
            "app.toml:10: http.route[0].name: expected namespace/name, got \"x\"");
  EXPECT_EQ(error(head + "[[http.route]]\npath = \"/a\"\nstatic = \"x\"\n[http.route.config]\n"
                         "k = \"v\"\n"),
            "app.toml:10: http.route[0].config: only for a wasi:http/proxy route (wasm = ...); a "
            "[[component]] has its own");
  EXPECT_EQ(error(head + route + "[http.route.config]\nk = 1.5\n"),
            "app.toml:11: http.route[0].config.k: expected a string, integer or boolean");
  EXPECT_NE(error(head + route + "[http.route.capabilities]\n\"storage.raed\" = [\"**\"]\n")
                .find("app.toml:11: http.route[0].capabilities.storage.raed: "),
            std::string::npos);
  // Grants name a component or a wasm route.
  EXPECT_EQ(error(head + route + "[grants.\"http/b\"]\n\"storage.read\" = [\"**\"]\n"),
            "app.toml:10: grants.\"http/b\": no [[component]] or wasi:http/proxy [[http.route]] of "
            "that name (grants are keyed by namespace/name)");
  EXPECT_EQ(error(head + route + "[grants.\"http/a\"]\n\"storage.read\" = [\"**\"]\n"), "accepted");
}

}  // namespace
}  // namespace capsule::manifest
