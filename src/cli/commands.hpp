#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "admin_client.hpp"
#include "manifest/manifest.hpp"

namespace capsule::cli {

// The commands of the `capsule` binary; each returns the process's exit code and reports a
// failure on stderr as "capsule: <message>".

// Prints "capsule: <message>" on stderr; returns 1.
inline int fail(const std::string& message) {
  std::fprintf(stderr, "capsule: %s\n", message.c_str());
  return 1;
}

// host_commands.cpp
int cmd_run(const std::string& manifest_path, const std::string& admin_override,
            const std::string& log_format, const std::string& cluster_url,
            const std::string& credentials_path, const manifest::HostOverrides& overrides);
// `tls_names` empty: no TLS; else the names and addresses of the server's certificate.
int cmd_cluster_init(const std::string& cluster_name, const std::vector<std::string>& host_names,
                     const std::string& kv_bucket, const std::string& out,
                     const std::vector<std::string>& tls_names, bool keep_ca_key);
int cmd_cluster_add_host(const std::string& dir, const std::string& host,
                         const std::string& kv_bucket);
// `server_names` empty: no server certificate.
int cmd_cluster_renew(const std::string& dir, const std::string& out,
                      const std::vector<std::string>& hosts,
                      const std::vector<std::string>& server_names, bool force, int days);

// component_commands.cpp
int cmd_inspect(const std::string& path);
int cmd_new(const std::string& language, const std::string& name);

// admin_commands.cpp: requests to a running host's admin API.
struct MessageOptions {
  std::string target;  // namespace/name[/instance]
  std::string payload;
  std::string codec = "text";
  int timeout_ms = 5000;  // call only
};
int cmd_hosts(const AdminClientOptions& admin, bool raw_json);
int cmd_ps(const AdminClientOptions& admin, bool raw_json);
int cmd_metrics(const AdminClientOptions& admin);
int cmd_dashboard(const AdminClientOptions& admin);
int cmd_send(const AdminClientOptions& admin, const MessageOptions& message, bool call);
// stop, or with `restart` restart, every instance of `component` ("ns/name").
int cmd_stop(const AdminClientOptions& admin, const std::string& component, bool restart);
int cmd_upgrade(const AdminClientOptions& admin, const std::string& component,
                const std::string& new_wasm);

}  // namespace capsule::cli
