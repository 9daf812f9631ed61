#include "http_manifest.hpp"

#include <algorithm>

#include "field_names.hpp"
#include "manifest.hpp"
#include "table_parsers.hpp"

namespace capsule::manifest {
namespace {

class HttpChecker {
 public:
  HttpChecker(const std::filesystem::path& file, int fallback_line)
      : file_(file.filename().string()), fallback_(fallback_line) {}

  [[nodiscard]] Error error(const toml::node* node, const std::string& what) const {
    const int line = node != nullptr ? static_cast<int>(node->source().begin.line) : fallback_;
    return make_error(ErrorCode::kInvalidArgument,
                      file_ + ":" + std::to_string(line) + ": " + what);
  }

  // A whole number in [lo, hi].
  [[nodiscard]] Result<std::int64_t> integer(const toml::node& n, const std::string& where,
                                             std::int64_t lo, std::int64_t hi) const {
    auto v = n.value<std::int64_t>();
    if (!v || *v < lo || *v > hi) {
      return error(&n, where + ": expected a whole number from " + std::to_string(lo) + " to " +
                           std::to_string(hi));
    }
    return *v;
  }

  // "1MiB", "16KiB" or a byte count, in [lo, hi].
  [[nodiscard]] Result<std::uint64_t> size(const toml::node& n, const std::string& where,
                                           std::uint64_t lo, std::uint64_t hi) const {
    std::optional<std::uint64_t> bytes;
    if (auto text = n.value<std::string>()) bytes = parse_size(*text);
    if (auto count = n.value<std::int64_t>(); count && *count >= 0) {
      bytes = static_cast<std::uint64_t>(*count);
    }
    if (!bytes || *bytes < lo || *bytes > hi) {
      return error(&n, where + ": expected a size like \"1MiB\" or a byte count, from " +
                           std::to_string(lo) + " to " + std::to_string(hi) + " bytes, not " +
                           shown(n));
    }
    return *bytes;
  }

  [[nodiscard]] Result<bool> boolean(const toml::node& n, const std::string& where) const {
    if (!n.is_boolean()) return error(&n, where + ": expected true or false");
    return n.value_or(false);
  }

  [[nodiscard]] Result<std::string> string(const toml::node& n, const std::string& where) const {
    auto v = n.value<std::string>();
    if (!v) return error(&n, where + ": expected a string");
    return *v;
  }

 private:
  std::string file_;
  int fallback_;
};

bool valid_route_path(const std::string& p) {
  if (p.empty() || p.front() != '/' || p.size() > 1024) return false;
  if (p.size() > 1 && p.back() == '/') return false;  // "/api", not "/api/": one spelling
  return std::all_of(p.begin(), p.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '/' || ch == '-' ||
           ch == '_' || ch == '.' || ch == '~';
  });
}

HttpRouteEntry with_default_name(HttpRouteEntry r);

// [http.route.supervision]: a wasi:http/proxy route's restart intensity, named and bounded as a
// component's (docs/http.md). Strategy, backoff and escalation have no meaning for a pool.
Status parse_route_supervision(const HttpChecker& c, const toml::node& v, const std::string& where,
                               HttpRouteEntry& r) {
  static constexpr std::string_view kFields[] = {"max_restarts", "window_ms"};
  const auto* t = v.as_table();
  if (t == nullptr) {
    return c.error(&v, where + "supervision: expected a table (max_restarts, window_ms)");
  }
  for (const auto& [k, item] : *t) {
    const std::string key(k.str());
    std::string field = where + "supervision.";
    field += key;
    if (!known(key, kFields)) {
      field += ": unknown field for a route (known: ";
      field += field_list(kFields);
      return c.error(&item, field + ")");
    }
    if (key == "max_restarts") {
      auto n = c.integer(item, field, 0, 1'000'000);
      if (!n) return std::move(n).error();
      r.max_restarts = static_cast<std::uint32_t>(*n);
    } else {
      auto n = c.integer(item, field, 1, 86'400'000);
      if (!n) return std::move(n).error();
      r.restart_window = std::chrono::milliseconds(*n);
    }
  }
  return ok();
}

Result<HttpRouteEntry> parse_route(const HttpChecker& c, const toml::table& t, std::size_t index,
                                   const std::filesystem::path& file,
                                   const std::vector<std::string>& components) {
  static constexpr std::string_view kRouteFields[] = {
      "path",       "component", "static", "wasm",     "envelope", "max_body", "request_timeout_ms",
      "instances",  "reuse",     "memory", "outgoing", "name",     "config",   "capabilities",
      "supervision"};
  const std::string where = "http.route[" + std::to_string(index) + "].";
  const Checker checker(file);
  HttpRouteEntry r;
  r.line = static_cast<int>(t.source().begin.line);
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    if (!known(key, kRouteFields)) {
      return c.error(&v, where + key + ": unknown field (known: " + field_list(kRouteFields) + ")");
    }
    if (key == "path") {
      auto s = c.string(v, where + key);
      if (!s) return std::move(s).error();
      if (!valid_route_path(*s)) {
        return c.error(&v, where +
                               "path: expected an absolute path prefix like \"/hello\" "
                               "([A-Za-z0-9/._~-], no trailing slash)");
      }
      r.path = *s;
    } else if (key == "component") {
      auto s = c.string(v, where + key);
      if (!s) return std::move(s).error();
      if (std::find(components.begin(), components.end(), *s) == components.end()) {
        return c.error(&v, where + "component: \"" + *s +
                               "\" is not a [[component]] of this manifest (namespace/name)");
      }
      r.component = *s;
    } else if (key == "wasm") {
      auto s = c.string(v, where + key);
      if (!s) return std::move(s).error();
      if (s->empty()) return c.error(&v, where + "wasm: expected the path of a .wasm file");
      const std::filesystem::path path(*s);
      r.wasm = path.is_absolute() ? path : file.parent_path() / path;
    } else if (key == "instances") {
      auto n = c.integer(v, where + key, 1, 256);
      if (!n) return std::move(n).error();
      r.instances = static_cast<std::uint32_t>(*n);
    } else if (key == "reuse") {
      auto b = c.boolean(v, where + key);
      if (!b) return std::move(b).error();
      r.reuse = *b;
    } else if (key == "memory") {
      auto n = c.size(v, where + key, std::uint64_t{64} << 10, std::uint64_t{4} << 30);
      if (!n) return std::move(n).error();
      r.memory_bytes = *n;
    } else if (key == "outgoing") {
      const auto* arr = v.as_array();
      if (arr == nullptr) {
        return c.error(&v, where + "outgoing: expected a list of host patterns");
      }
      for (const auto& item : *arr) {
        auto h = c.string(item, where + key);
        if (!h) return std::move(h).error();
        r.outgoing.push_back(*h);
      }
    } else if (key == "name") {
      auto s = c.string(v, where + key);
      if (!s) return std::move(s).error();
      auto id = ComponentId::parse(*s);
      if (!id || std::count(s->begin(), s->end(), '/') != 1) {
        return c.error(&v, where + "name: expected namespace/name, got \"" + *s + "\"");
      }
      if (id->ns == "host") {
        return c.error(&v, where + "name: the namespace 'host' is reserved for the host");
      }
      r.ns = id->ns;
      r.name = id->name;
    } else if (key == "config") {
      if (Status st = parse_config(checker, v, r.line, where, r.config); !st) {
        return std::move(st).error();
      }
    } else if (key == "capabilities") {
      const auto* tbl = v.as_table();
      if (tbl == nullptr) {
        return c.error(&v, where + "capabilities: expected a table of action = [targets]");
      }
      auto declared = parse_capabilities(checker, *tbl, where + "capabilities.", nullptr);
      if (!declared) return std::move(declared).error();
      r.permissions.declared = std::move(*declared);
    } else if (key == "supervision") {
      if (Status st = parse_route_supervision(c, v, where, r); !st) return std::move(st).error();
    } else if (key == "static") {
      auto s = c.string(v, where + key);
      if (!s) return std::move(s).error();
      r.static_body = *s;
    } else if (key == "envelope") {
      auto s = c.string(v, where + key);
      if (!s) return std::move(s).error();
      if (*s != "body" && *s != "json") {
        return c.error(&v, where + "envelope: expected \"body\" or \"json\"");
      }
      r.envelope = *s == "json" ? HttpEnvelope::kJson : HttpEnvelope::kBody;
    } else if (key == "max_body") {
      auto n = c.size(v, where + key, 0, std::uint64_t{256} << 20);
      if (!n) return std::move(n).error();
      r.max_body_bytes = *n;
    } else if (key == "request_timeout_ms") {
      auto n = c.integer(v, where + key, 1, 3'600'000);
      if (!n) return std::move(n).error();
      r.request_timeout = std::chrono::milliseconds(*n);
    }
  }
  if (r.path.empty()) return c.error(&t, where + "path: missing (e.g. path = \"/hello\")");
  const int kinds = static_cast<int>(!r.component.empty()) +
                    static_cast<int>(r.static_body.has_value()) + static_cast<int>(!r.wasm.empty());
  if (kinds != 1) {
    return c.error(&t, where +
                           "needs exactly one of component = \"ns/name\", static = \"text\" or "
                           "wasm = \"<a wasi:http/proxy component>\"");
  }
  for (std::string_view only : {"name", "config", "capabilities", "supervision"}) {
    if (r.wasm.empty() && t.contains(only)) {
      return c.error(t.get(only), where + std::string(only) +
                                      ": only for a wasi:http/proxy route (wasm = ...); a "
                                      "[[component]] has its own");
    }
  }
  if (!r.wasm.empty() && r.name.empty()) r = with_default_name(std::move(r));
  return r;
}

// "http/<path>": "/api/v1" -> "http/api.v1", "/" -> "http/root" ('~', which ids lack, as '_').
HttpRouteEntry with_default_name(HttpRouteEntry r) {
  r.ns = "http";
  r.name = r.path == "/" ? "root" : r.path.substr(1);
  std::replace(r.name.begin(), r.name.end(), '/', '.');
  std::replace(r.name.begin(), r.name.end(), '~', '_');
  return r;
}

// A wasm route's name is its own: two routes, or a route and a [[component]], sharing one would
// share storage space, grants and quotas.
Status check_route_name(const HttpChecker& c, const toml::table& t, const HttpRouteEntry& r,
                        std::size_t index, const std::vector<HttpRouteEntry>& before,
                        const std::vector<std::string>& components) {
  if (r.wasm.empty()) return ok();
  const std::string full = r.ns + "/" + r.name;
  const std::string where = "http.route[" + std::to_string(index) + "].name: \"" + full + "\" ";
  if (std::find(components.begin(), components.end(), full) != components.end()) {
    return c.error(&t, where +
                           "is a [[component]] of this manifest: a route's instances get a "
                           "storage space and grants of their own (give it another name)");
  }
  for (const auto& prev : before) {
    if (!prev.wasm.empty() && prev.ns + "/" + prev.name == full) {
      return c.error(&t, where + "is also the name of the route on line " +
                             std::to_string(prev.line) + " (give one of them name = \"ns/name\")");
    }
  }
  return ok();
}

}  // namespace

Result<HttpSection> parse_http_section(const toml::table& http, const std::filesystem::path& file,
                                       const std::vector<std::string>& components) {
  HttpSection out;
  out.line = static_cast<int>(http.source().begin.line);
  const HttpChecker c(file, out.line);
  static constexpr std::string_view kSectionFields[] = {
      "listen",          "max_connections",       "max_header_bytes",
      "read_timeout_ms", "keep_alive_timeout_ms", "route"};
  for (const auto& [k, v] : http) {
    const std::string key(k.str());
    const std::string where = "http." + key;
    if (!known(key, kSectionFields)) {
      return c.error(&v, where + ": unknown field (known: " + field_list(kSectionFields) + ")");
    }
    if (key == "listen") {
      auto s = c.string(v, where);
      if (!s) return std::move(s).error();
      const auto colon = s->rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == s->size()) {
        return c.error(&v, where + ": expected host:port, e.g. \"127.0.0.1:8080\"");
      }
      out.listen = *s;
    } else if (key == "max_connections") {
      auto n = c.integer(v, where, 1, 10'000);
      if (!n) return std::move(n).error();
      out.max_connections = static_cast<std::size_t>(*n);
    } else if (key == "max_header_bytes") {
      auto n = c.size(v, where, 256, std::uint64_t{1} << 20);
      if (!n) return std::move(n).error();
      out.max_header_bytes = *n;
    } else if (key == "read_timeout_ms") {
      auto n = c.integer(v, where, 10, 600'000);
      if (!n) return std::move(n).error();
      out.read_timeout = std::chrono::milliseconds(*n);
    } else if (key == "keep_alive_timeout_ms") {
      auto n = c.integer(v, where, 0, 600'000);
      if (!n) return std::move(n).error();
      out.keep_alive_timeout = std::chrono::milliseconds(*n);
    } else if (key == "route") {
      const auto* arr = v.as_array();
      if (arr == nullptr) return c.error(&v, "http.route: expected [[http.route]] tables");
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const auto* t = (*arr)[i].as_table();
        if (t == nullptr) {
          return c.error(&(*arr)[i], "http.route[" + std::to_string(i) + "]: expected a table");
        }
        auto r = parse_route(c, *t, i, file, components);
        if (!r) return std::move(r).error();
        for (const auto& prev : out.routes) {
          if (prev.path == r->path) {
            return c.error(t, "http.route[" + std::to_string(i) + "].path: \"" + r->path +
                                  "\" is routed twice (first on line " + std::to_string(prev.line) +
                                  ")");
          }
        }
        if (Status s = check_route_name(c, *t, *r, i, out.routes, components); !s) {
          return std::move(s).error();
        }
        out.routes.push_back(std::move(*r));
      }
    }
  }
  if (out.listen.empty()) {
    return c.error(&http, "http.listen: missing (e.g. listen = \"127.0.0.1:8080\")");
  }
  if (out.routes.empty()) {
    return c.error(&http, "http: no [[http.route]] tables (at least one route)");
  }
  return out;
}

}  // namespace capsule::manifest
