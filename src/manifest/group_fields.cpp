// One [[group]] table: components under one supervisor, checked against the [[component]] tables.
#include <algorithm>

#include "field_names.hpp"
#include "table_parsers.hpp"

namespace capsule::manifest {

Result<GroupEntry> parse_group(const Checker& c, const toml::table& t, std::size_t index,
                               const Manifest& m) {
  GroupEntry g;
  g.line = static_cast<int>(t.source().begin.line);
  std::string where = "group[" + std::to_string(index) + "] ";
  static constexpr std::string_view kGroupFields[] = {"name", "members", "supervision"};
  for (const auto& [k, v] : t) {
    if (!known(k.str(), kGroupFields)) {
      return c.error(&v, g.line,
                     where + std::string(k.str()) +
                         ": unknown field (known: " + field_list(kGroupFields) + ")");
    }
  }
  const toml::node* name = t.get("name");
  auto name_text = name != nullptr ? name->value<std::string>() : std::nullopt;
  if (!name_text || !is_valid_id_segment(*name_text)) {
    return c.error(name, g.line, where + "name: required, [A-Za-z0-9._-]+ like \"payments\"");
  }
  g.name = *name_text;
  where = "group '" + g.name + "' ";
  for (const auto& other : m.groups) {
    if (other.name == g.name) {
      return c.error(
          &t, g.line,
          where + "is declared twice (first on line " + std::to_string(other.line) + ")");
    }
  }
  const toml::node* members = t.get("members");
  const auto* arr = members != nullptr ? members->as_array() : nullptr;
  if (arr == nullptr || arr->empty()) {
    return c.error(members, g.line,
                   where + "members: required, a list of components like [\"bank/ledger\"]");
  }
  const ComponentEntry* first = nullptr;
  for (const auto& item : *arr) {
    auto member = item.value<std::string>();
    const auto it = std::find_if(m.components.begin(), m.components.end(), [&](const auto& e) {
      return member && e.ns + "/" + e.name == *member;
    });
    if (it == m.components.end()) {
      return c.error(&item, g.line,
                     where + "members: " + (member ? "\"" + *member + "\"" : "a non-string") +
                         " is not a [[component]] of this manifest");
    }
    if (std::find(g.members.begin(), g.members.end(), *member) != g.members.end()) {
      return c.error(&item, g.line, where + "members: \"" + *member + "\" is listed twice");
    }
    for (const auto& other : m.groups) {
      if (std::find(other.members.begin(), other.members.end(), *member) != other.members.end()) {
        return c.error(&item, g.line,
                       where + "members: \"" + *member + "\" is already in group '" + other.name +
                           "' (line " + std::to_string(other.line) + ")");
      }
    }
    if (it->on_demand) {
      return c.error(&item, g.line,
                     where + "members: \"" + *member +
                         "\" is on-demand; its activations are not supervised by a group");
    }
    if (it->own_supervision) {
      return c.error(&item, it->line,
                     "component '" + *member + "' supervision: it is supervised by group '" +
                         g.name + "' (line " + std::to_string(g.line) +
                         "); set [group.supervision] there instead");
    }
    // One supervisor lives on one host: every member must be placed alike and cannot move alone.
    if (!it->failover.empty()) {
      return c.error(&item, it->line,
                     "component '" + *member + "' placement.failover: members of group '" + g.name +
                         "' cannot fail over one by one");
    }
    if (first != nullptr && first->groups != it->groups) {
      return c.error(&item, it->line,
                     "component '" + *member + "' placement.groups: differs from '" + first->ns +
                         "/" + first->name + "' in the same group '" + g.name + "'");
    }
    if (first == nullptr) first = &*it;
    g.members.push_back(*member);
  }
  if (const toml::node* sup = t.get("supervision")) {
    const auto* tbl = sup->as_table();
    if (tbl == nullptr) return c.error(sup, g.line, where + "supervision: expected a table");
    if (Status s = parse_supervision(c, *tbl, where, g.supervision, g.escalation); !s) {
      return std::move(s).error();
    }
  }
  return g;
}

}  // namespace capsule::manifest
