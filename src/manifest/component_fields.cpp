// One [[component]] table: its own fields, then its sub-tables (limits, mailbox, supervision,
// capabilities, placement) and what activation = "on-demand" excludes.
#include <algorithm>
#include <array>

#include "activation_fields.hpp"
#include "field_names.hpp"
#include "table_parsers.hpp"

namespace capsule::manifest {

namespace {

constexpr std::array<std::string_view, 6> kComponentKeys{"name",    "path",      "instances",
                                                         "restart", "subscribe", "links"};
constexpr std::array<std::string_view, 6> kComponentTables{"config",  "limits",       "supervision",
                                                           "mailbox", "capabilities", "placement"};

constexpr std::string_view kPlacementFields[] = {"groups", "failover"};

Status parse_placement(const Checker& c, const toml::table& t, const std::string& where,
                       ComponentEntry& e) {
  for (const auto& [k, v] : t) {
    if (!known(k.str(), kPlacementFields)) {
      return c.error(&v, e.line,
                     where + "placement." + std::string(k.str()) +
                         ": unknown field (known: " + field_list(kPlacementFields) + ")");
    }
  }
  if (const toml::node* g = t.get("groups")) {
    auto groups = parse_groups(c, *g, e.line, where + "placement.groups", false);
    if (!groups) return std::move(groups).error();
    e.groups = std::move(*groups);
  }
  if (const toml::node* f = t.get("failover")) {
    auto groups = parse_groups(c, *f, e.line, where + "placement.failover", true);
    if (!groups) return std::move(groups).error();
    if (!groups->empty() && e.groups.empty()) {
      return c.error(f, e.line,
                     where +
                         "placement.failover: needs placement.groups (without groups the "
                         "component already runs on every host)");
    }
    e.failover = std::move(*groups);
  }
  return ok();
}

// activation = "on-demand" and what it excludes: its activations are neither counted, linked,
// subscribed nor supervised, and one host serves them (no failover yet).
Status check_on_demand(const Checker& c, const toml::table& t, const std::string& where,
                       ComponentEntry& e) {
  auto fields = parse_activation(t);
  if (fields.error) return c.error(fields.error->at, e.line, where + fields.error->text);
  e.on_demand = fields.on_demand;
  if (!e.on_demand) return ok();
  for (std::string_view key : {"instances", "links", "subscribe", "restart", "supervision"}) {
    if (const toml::node* n = t.get(key)) {
      return c.error(n, e.line,
                     where + std::string(key) +
                         ": not for activation = \"on-demand\" (names are activated by their "
                         "messages, unsupervised; see docs/components.md)");
    }
  }
  if (!e.failover.empty()) {
    return c.error(t.get("placement"), e.line,
                   where + "placement.failover: not for activation = \"on-demand\" yet");
  }
  return ok();
}

}  // namespace

Status parse_config(const Checker& c, const toml::node& n, int line, const std::string& where,
                    wasm::KeyValues& out) {
  const auto* tbl = n.as_table();
  if (tbl == nullptr) return c.error(&n, line, where + "config: expected a table of strings");
  for (const auto& [k, v] : *tbl) {
    std::string value;
    if (auto s = v.value<std::string>()) {
      value = *s;
    } else if (auto i = v.value<std::int64_t>()) {
      value = std::to_string(*i);
    } else if (auto b = v.value<bool>()) {
      value = *b ? "true" : "false";
    } else {
      return c.error(
          &v, line,
          where + "config." + std::string(k.str()) + ": expected a string, integer or boolean");
    }
    out.emplace_back(std::string(k.str()), std::move(value));
  }
  return ok();
}

Result<ComponentEntry> parse_component(const Checker& c, const toml::table& t, std::size_t index,
                                       const Manifest& manifest) {
  ComponentEntry e;
  e.line = static_cast<int>(t.source().begin.line);
  std::string where = "component[" + std::to_string(index) + "] ";
  for (const auto& [k, v] : t) {
    if (!known(k.str(), kComponentKeys) && !known(k.str(), kComponentTables) &&
        !known(k.str(), kActivationKeys)) {
      return c.error(&v, e.line,
                     where + std::string(k.str()) +
                         ": unknown field (known: " + field_list(kComponentKeys) + ", " +
                         field_list(kActivationKeys) + ", " + field_list(kComponentTables) + ")");
    }
  }
  const toml::node* name = t.get("name");
  auto name_text = name != nullptr ? name->value<std::string>() : std::nullopt;
  if (!name_text) return c.error(name, e.line, where + "name: required, like \"shop/cart\"");
  auto id = ComponentId::parse(*name_text);
  if (!id || std::count(name_text->begin(), name_text->end(), '/') != 1) {
    return c.error(name, e.line,
                   where + "name: expected namespace/name, got \"" + *name_text + "\"");
  }
  e.ns = id->ns;
  e.name = id->name;
  where = "component '" + e.ns + "/" + e.name + "' ";

  const toml::node* path = t.get("path");
  auto path_text = path != nullptr ? path->value<std::string>() : std::nullopt;
  if (!path_text) return c.error(path, e.line, where + "path: required (the .wasm file)");
  std::filesystem::path p(*path_text);
  const auto base = manifest.file.parent_path();
  if (p.is_relative()) {
    const auto near = base / p;
    const auto in_dir = base / manifest.host.components_dir / p;
    p = std::filesystem::exists(near) || manifest.host.components_dir.empty() ? near : in_dir;
  }
  if (!std::filesystem::exists(p)) {
    return c.error(path, e.line, where + "path: no such file " + p.lexically_normal().string());
  }
  e.wasm = p.lexically_normal();

  auto instances = optional_value<std::int64_t>(c, t, "instances", where, "a positive integer");
  if (!instances) return std::move(instances).error();
  if (*instances) {
    if (**instances < 1 || **instances > 100000) {
      return c.error(t.get("instances"), e.line, where + "instances: must be between 1 and 100000");
    }
    e.instances = static_cast<std::uint32_t>(**instances);
  }
  if (const toml::node* r = t.get("restart")) {
    auto v = r->value<std::string>();
    if (v == "permanent") {
      e.restart = rt::RestartPolicy::kPermanent;
    } else if (v == "transient") {
      e.restart = rt::RestartPolicy::kTransient;
    } else if (v == "temporary") {
      e.restart = rt::RestartPolicy::kTemporary;
    } else {
      return c.error(r, e.line, where + "restart: expected permanent, transient or temporary");
    }
  }
  if (const toml::node* s = t.get("subscribe")) {
    const auto* arr = s->as_array();
    if (arr == nullptr)
      return c.error(s, e.line, where + "subscribe: expected a list of topic names");
    for (const auto& item : *arr) {
      auto topic = item.value<std::string>();
      if (!topic || topic->empty())
        return c.error(&item, e.line, where + "subscribe: topics are non-empty strings");
      e.subscribe.push_back(*topic);
    }
  }
  if (const toml::node* l = t.get("links")) {
    const auto* arr = l->as_array();
    if (arr == nullptr) return c.error(l, e.line, where + "links: expected a list of \"ns/name\"");
    for (const auto& item : *arr) {
      auto link = item.value<std::string>();
      if (!link || !ComponentId::parse(*link) || std::count(link->begin(), link->end(), '/') != 1) {
        return c.error(&item, e.line, where + "links: expected \"ns/name\" entries");
      }
      if (*link == e.ns + "/" + e.name) {
        return c.error(&item, e.line, where + "links: a component cannot link to itself");
      }
      e.links.push_back(*link);
    }
  }
  if (const toml::node* cfg = t.get("config")) {
    if (Status st = parse_config(c, *cfg, e.line, where, e.config); !st)
      return std::move(st).error();
  }
  if (const toml::node* caps = t.get("capabilities")) {
    const auto* tbl = caps->as_table();
    if (tbl == nullptr)
      return c.error(caps, e.line, where + "capabilities: expected a table of action = [targets]");
    auto declared = parse_capabilities(c, *tbl, where + "capabilities.", nullptr);
    if (!declared) return std::move(declared).error();
    e.permissions.declared = std::move(*declared);
  }
  struct Sub {
    std::string_view key;
    Status (*parse)(const Checker&, const toml::table&, const std::string&, ComponentEntry&);
  };
  static constexpr Sub kSubs[] = {
      {"limits", [](const Checker& ch, const toml::table& tb, const std::string& w,
                    ComponentEntry& en) { return parse_limits(ch, tb, w, en.limits); }},
      {"supervision",
       [](const Checker& ch, const toml::table& tb, const std::string& w, ComponentEntry& en) {
         return parse_supervision(ch, tb, w, en.supervision, en.escalation);
       }},
      {"mailbox", [](const Checker& ch, const toml::table& tb, const std::string& w,
                     ComponentEntry& en) { return parse_mailbox(ch, tb, w, en.mailbox); }},
      {"placement", &parse_placement},
  };
  e.own_supervision = t.contains("supervision");
  for (const auto& sub : kSubs) {
    if (const toml::node* n = t.get(sub.key)) {
      const auto* tbl = n->as_table();
      if (tbl == nullptr)
        return c.error(n, e.line, where + std::string(sub.key) + ": expected a table");
      if (Status s = sub.parse(c, *tbl, where, e); !s) return std::move(s).error();
    }
  }
  if (Status s = check_on_demand(c, t, where, e); !s) return std::move(s).error();
  return e;
}

}  // namespace capsule::manifest
