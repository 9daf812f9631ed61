#include "manifest.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include "field_names.hpp"
#include "http_manifest.hpp"
#include "table_parsers.hpp"

namespace capsule::manifest {

Result<Manifest> parse_manifest(std::string_view text, const std::filesystem::path& file,
                                const HostOverrides& overrides) {
  const Checker c(file);
  toml::parse_result parsed = toml::parse(text, file.string());
  if (!parsed) {
    const auto& err = parsed.error();
    return make_error(ErrorCode::kInvalidArgument, file.filename().string() + ":" +
                                                       std::to_string(err.source().begin.line) +
                                                       ": " + std::string(err.description()));
  }
  const toml::table& root = parsed.table();
  Manifest m;
  m.file = file;
  // As a manifest writes them (a table or [[an array of tables]]): the key is inside the brackets.
  static constexpr std::string_view kSections[] = {"[host]", "[[component]]", "[[group]]",
                                                   "[grants]", "[http]"};
  const auto is_section = [](std::string_view key) {
    return std::any_of(std::begin(kSections), std::end(kSections), [&](std::string_view written) {
      const auto name = written.find_first_not_of('[');
      return written.substr(name, written.find(']') - name) == key;
    });
  };
  for (const auto& [k, v] : root) {
    if (!is_section(k.str())) {
      return c.error(
          &v, 1, std::string(k.str()) + ": unknown section (known: " + field_list(kSections) + ")");
    }
  }
  auto host = parse_host(c, root.get("host"), file, overrides);
  if (!host) return std::move(host).error();
  m.host = std::move(*host);
  const toml::node* comps = root.get("component");
  const auto* arr = comps != nullptr ? comps->as_array() : nullptr;
  if (arr == nullptr || arr->empty()) {
    return c.error(comps, 1, "no [[component]] tables: a manifest declares at least one component");
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const auto* t = (*arr)[i].as_table();
    if (t == nullptr)
      return c.error(&(*arr)[i], 1, "component[" + std::to_string(i) + "]: expected a table");
    auto e = parse_component(c, *t, i, m);
    if (!e) return std::move(e).error();
    for (const auto& prev : m.components) {
      if (prev.ns == e->ns && prev.name == e->name) {
        return c.error(t, e->line,
                       "component '" + e->ns + "/" + e->name +
                           "' is declared twice (first on line " + std::to_string(prev.line) + ")");
      }
    }
    m.components.push_back(std::move(*e));
  }
  for (const auto& e : m.components) {
    for (const auto& link : e.links) {
      const bool known_target =
          std::any_of(m.components.begin(), m.components.end(),
                      [&](const ComponentEntry& o) { return o.ns + "/" + o.name == link; });
      if (!known_target) {
        return c.error(nullptr, e.line,
                       "component '" + e.ns + "/" + e.name + "' links: \"" + link +
                           "\" is not a [[component]] of this manifest");
      }
    }
  }
  if (const toml::node* h = root.get("http")) {
    const auto* t = h->as_table();
    if (t == nullptr) return c.error(h, 1, "http: expected a table ([http])");
    std::vector<std::string> names;
    names.reserve(m.components.size());
    for (const auto& e : m.components) names.push_back(e.ns + "/" + e.name);
    auto http = parse_http_section(*t, file, names);
    if (!http) return std::move(http).error();
    m.http = std::move(*http);
  }
  if (const toml::node* g = root.get("grants")) {
    if (Status s = parse_grants(c, *g, m.components, m.http.routes); !s)
      return std::move(s).error();
  }
  if (const toml::node* g = root.get("group")) {
    const auto* groups = g->as_array();
    if (groups == nullptr) return c.error(g, 1, "group: expected [[group]] tables");
    for (std::size_t i = 0; i < groups->size(); ++i) {
      const auto* t = (*groups)[i].as_table();
      if (t == nullptr) {
        return c.error(&(*groups)[i], 1, "group[" + std::to_string(i) + "]: expected a table");
      }
      auto group = parse_group(c, *t, i, m);
      if (!group) return std::move(group).error();
      m.groups.push_back(std::move(*group));
    }
  }
  return m;
}

const GroupEntry* Manifest::group_of(const ComponentEntry& entry) const {
  const std::string key = entry.ns + "/" + entry.name;
  for (const auto& g : groups) {
    if (std::find(g.members.begin(), g.members.end(), key) != g.members.end()) return &g;
  }
  return nullptr;
}

Result<Manifest> load_manifest(const std::filesystem::path& file, const HostOverrides& overrides) {
  std::ifstream in(file);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read manifest " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  return parse_manifest(text.str(), std::filesystem::absolute(file), overrides);
}

component::ComponentSpec to_spec(const ComponentEntry& e,
                                 std::shared_ptr<const wasm::CompiledComponent> c) {
  component::ComponentSpec s;
  s.ns = e.ns;
  s.name = e.name;
  s.component = std::move(c);
  s.instances = e.instances;
  s.config = e.config;
  s.limits = e.limits;
  s.mailbox = e.mailbox;
  s.restart = e.restart;
  s.supervision = e.supervision;
  s.escalation = e.escalation;
  s.permissions = e.permissions;
  s.links = e.links;
  s.on_demand = e.on_demand;
  return s;
}

}  // namespace capsule::manifest
