#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <capsule/component/component_spec.hpp>
#include <capsule/core/result.hpp>
#include <capsule/security/capability.hpp>

#include "http_section.hpp"

namespace capsule::manifest {

// One [[component]] table of an app manifest.
struct ComponentEntry {
  std::string ns;
  std::string name;
  std::filesystem::path wasm;  // resolved against the manifest (or host.components_dir)
  std::uint32_t instances = 1;
  wasm::KeyValues config;
  ResourceLimits limits;
  rt::RestartPolicy restart = rt::RestartPolicy::kPermanent;
  rt::SupervisorConfig supervision;
  component::GroupEscalation escalation;  // [component.supervision] escalation*: when it gives up
  std::optional<rt::MailboxConfig> mailbox;
  std::vector<std::string> subscribe;  // topics each instance subscribes to at start
  std::vector<std::string> links;      // "ns/name": fail (and restart) together, both ways
  // [component.capabilities] (declared) and [grants."ns/name"] (granted by this host).
  security::ComponentPermissions permissions;
  // [component.placement]: the host groups it runs on (empty: every host that loads the
  // manifest) and those that may adopt it when no live host runs it any more ("*": any).
  std::vector<std::string> groups;
  std::vector<std::string> failover;
  // activation = "on-demand": a virtual-actor component (ComponentSpec::on_demand).
  std::optional<component::OnDemandActivation> on_demand;
  bool own_supervision = false;  // has a [component.supervision] table
  int line = 0;                  // where the table starts, for messages
};

// [host.cluster_tls]: TLS on the host's NATS connections (`capsule run --cluster`), paths
// relative to the manifest: the CA that signed the server's certificate, and this host's
// certificate and key (see docs/cluster.md, "TLS"). All empty: plain TCP.
struct ClusterTlsPaths {
  std::filesystem::path ca;
  std::filesystem::path cert;
  std::filesystem::path key;
};

struct HostSection {
  std::string name = "capsule";
  std::filesystem::path data_dir = ".capsule";
  std::filesystem::path components_dir;  // where bare .wasm file names are looked up
  // The admin API always listens on <data_dir>/admin.sock (mode 0600); this opts in to a
  // loopback TCP listener too ("127.0.0.1:7070"), which wants the token in <data_dir>/admin.token.
  std::string admin;
  // Directories `capsule upgrade` may load component files from (default: the manifest's own).
  std::vector<std::filesystem::path> upgrade_dirs;
  std::filesystem::path storage;    // SQLite file; default <data_dir>/state.db
  std::filesystem::path audit_log;  // JSON lines; default <data_dir>/audit.jsonl
  // Cluster (used with `capsule run --cluster`): the cluster's name, this host's groups.
  std::string cluster = "default";
  std::vector<std::string> groups;
  // Component storage: "sqlite" (the `storage` file, this host only) or "nats-kv" (a JetStream
  // KV bucket on the cluster's NATS server, shared by every host).
  std::string storage_backend = "sqlite";
  std::string kv_bucket = "capsule_kv";
  // Copies JetStream keeps of each KV bucket this host creates (storage, leases, name claims): 3
  // on a cluster of three servers, so that losing one loses no acknowledged write. An existing
  // bucket keeps its own.
  int kv_replicas = 1;
  // true: a send to another host returns ok only once that host has the message in the target's
  // mailbox (one round trip each); false: once handed to NATS (faster, can be lost there).
  bool confirm_remote_sends = true;
  ClusterTlsPaths cluster_tls;
  // [host.quotas]: what each component (all its instances) may ask of the host unless its [limits]
  // say otherwise (see docs/security.md).
  GuestQuotas quotas = kDefaultGuestQuotas;
};

// One [[group]] table: components under one supervisor, so that (with one-for-all or
// rest-for-one) the failure of one restarts the others.
struct GroupEntry {
  std::string name;
  std::vector<std::string> members;  // "ns/name", in start (and rest-for-one) order
  rt::SupervisorConfig supervision;
  component::GroupEscalation escalation;  // [group.supervision] escalation*
  int line = 0;
};

struct Manifest {
  std::filesystem::path file;
  HostSection host;
  std::vector<ComponentEntry> components;
  std::vector<GroupEntry> groups;
  HttpSection http;  // [http]: the HTTP trigger (docs/http.md); disabled without it
  // The group a component belongs to, if any.
  [[nodiscard]] const GroupEntry* group_of(const ComponentEntry& entry) const;
};

// Command-line settings that replace [host] fields, so several hosts of a cluster can share one
// manifest file (`capsule run app.toml --host h2 --groups standby --data-dir data-h2`).
struct HostOverrides {
  std::string name;
  std::optional<std::vector<std::string>> groups;
  std::filesystem::path data_dir;  // relative to the working directory
  std::string cluster;
};

// Parses and validates an app manifest (TOML). Every error names the file, the line and the
// field, e.g. "app.toml:14: component 'demo/store' limits.memory: expected a size like "16MiB"".
[[nodiscard]] Result<Manifest> load_manifest(const std::filesystem::path& file,
                                             const HostOverrides& overrides = {});
[[nodiscard]] Result<Manifest> parse_manifest(std::string_view text,
                                              const std::filesystem::path& file,
                                              const HostOverrides& overrides = {});

// The largest size a manifest may give: 1 PiB (2^50 bytes).
inline constexpr std::uint64_t kMaxManifestSize = std::uint64_t{1} << 50;

// "16MiB", "512KiB", "1GiB", "4096" (bytes); nullopt for anything else, and for a size above
// kMaxManifestSize (such as "17179869185GiB", which would wrap in 64 bits).
[[nodiscard]] std::optional<std::uint64_t> parse_size(std::string_view text);

[[nodiscard]] component::ComponentSpec to_spec(const ComponentEntry& entry,
                                               std::shared_ptr<const wasm::CompiledComponent> c);

}  // namespace capsule::manifest
