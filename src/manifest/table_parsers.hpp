#pragma once

// toml++ header-only and without exceptions (one configuration per program).
#ifndef TOML_HEADER_ONLY
#define TOML_HEADER_ONLY 1
#endif
#ifndef TOML_EXCEPTIONS
#define TOML_EXCEPTIONS 0
#endif
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <vector>

#include <capsule/core/result.hpp>

#include "manifest.hpp"

namespace capsule::manifest {

// The parsers of a manifest's tables, one file per table (manifest.cpp reads the top level).
// Every error reads "<file>:<line>: <where><field>: <what is wrong>".

// Makes the errors: the line of the node at fault, or `fallback_line` without one.
class Checker {
 public:
  explicit Checker(std::filesystem::path file) : file_(std::move(file)) {}

  Error error(const toml::node* node, int fallback_line, const std::string& what) const {
    const int line = node != nullptr ? static_cast<int>(node->source().begin.line) : fallback_line;
    return make_error(ErrorCode::kInvalidArgument,
                      file_.filename().string() + ":" + std::to_string(line) + ": " + what);
  }

 private:
  std::filesystem::path file_;
};

// The value of optional field `key` of `t` as a T: nullopt when absent, an error naming
// `expected` when of another type.
template <typename T>
[[nodiscard]] Result<std::optional<T>> optional_value(const Checker& c, const toml::table& t,
                                                      std::string_view key,
                                                      const std::string& where,
                                                      std::string_view expected) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return std::optional<T>{};
  auto v = n->value<T>();
  if (!v) return c.error(n, 0, where + std::string(key) + ": expected " + std::string(expected));
  return v;
}

// A value as the manifest wrote it ("\"17179869185GiB\"", "-1"), for an error that refuses it
// (sizes.cpp).
[[nodiscard]] std::string shown(const toml::node& n);

// A list of host group names ("*" only where `wildcard` allows it) (host_fields.cpp).
[[nodiscard]] Result<std::vector<std::string>> parse_groups(const Checker& c, const toml::node& n,
                                                            int line, const std::string& where,
                                                            bool wildcard);
// One [host.quotas] or [component.limits] quota field into `out` (host_fields.cpp).
[[nodiscard]] Status parse_quota(const Checker& c, std::string_view key, const toml::node& v,
                                 const std::string& where, GuestQuotas& out);
// [host]: its fields, then the defaults relative to the manifest's directory and `overrides`
// (host_fields.cpp). `h` is null without a [host] table.
// [host.cluster_tls]: every file readable now (an error names the key, path and line).
[[nodiscard]] Status parse_cluster_tls(const Checker& c, const toml::node& n,
                                       const std::filesystem::path& file, ClusterTlsPaths& out);
[[nodiscard]] Result<HostSection> parse_host(const Checker& c, const toml::node* h,
                                             const std::filesystem::path& file,
                                             const HostOverrides& overrides);
// One [[component]] table (component_fields.cpp); `manifest` has the host and the components
// before it.
[[nodiscard]] Result<ComponentEntry> parse_component(const Checker& c, const toml::table& t,
                                                     std::size_t index, const Manifest& manifest);
// [component.limits] (limit_fields.cpp).
[[nodiscard]] Status parse_limits(const Checker& c, const toml::table& t, const std::string& where,
                                  ResourceLimits& out);
// [component.mailbox] (limit_fields.cpp).
[[nodiscard]] Status parse_mailbox(const Checker& c, const toml::table& t, const std::string& where,
                                   std::optional<rt::MailboxConfig>& out);
// [component.supervision] or [group.supervision] (supervision_fields.cpp).
[[nodiscard]] Status parse_supervision(const Checker& c, const toml::table& t,
                                       const std::string& where, rt::SupervisorConfig& out,
                                       component::GroupEscalation& escalation);
// [component.capabilities] (`quota` null) or one [grants."ns/name"] table (capability_fields.cpp).
[[nodiscard]] Result<std::vector<security::Capability>> parse_capabilities(
    const Checker& c, const toml::table& t, const std::string& where,
    std::optional<security::StorageQuota>* quota);
// [grants]: each table's capabilities and storage quota into its component (capability_fields.cpp).
[[nodiscard]] Status parse_grants(const Checker& c, const toml::node& g,
                                  std::vector<ComponentEntry>& components);
// One [[group]] table (group_fields.cpp); `m` has every component and the groups before it.
[[nodiscard]] Result<GroupEntry> parse_group(const Checker& c, const toml::table& t,
                                             std::size_t index, const Manifest& m);

}  // namespace capsule::manifest
