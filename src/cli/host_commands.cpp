// The commands that start a host or set up a cluster: `capsule run` (the daemon, in this process)
// and `capsule cluster init`.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "daemon/credentials.hpp"
#include "daemon/host_daemon.hpp"
#include "daemon/reporter.hpp"

namespace capsule::cli {

int cmd_run(const std::string& manifest_path, const std::string& admin_override,
            const std::string& log_format, const std::string& cluster_url,
            const std::string& credentials_path, const manifest::HostOverrides& overrides) {
  auto manifest = manifest::load_manifest(manifest_path, overrides);
  if (!manifest) return fail(manifest.error().message);
  std::optional<cluster::HostCredentials> credentials;
  if (!credentials_path.empty()) {
    if (cluster_url.empty()) return fail("--credentials needs --cluster nats://...");
    auto loaded = daemon::load_credentials(credentials_path);
    if (!loaded) return fail(loaded.error().message);
    // The server would let this host publish only under the name in the file: a mismatch would
    // silently lose every message, so it is refused here.
    if (loaded->host != manifest->host.name || loaded->cluster != manifest->host.cluster) {
      return fail(credentials_path + ": credentials of host '" + loaded->host + "' in cluster '" +
                  loaded->cluster + "', but this host is '" + manifest->host.name +
                  "' in cluster '" + manifest->host.cluster + "' (see --host, --cluster-name)");
    }
    credentials = std::move(*loaded);
  }
  daemon::Reporter reporter(log_format == "json" ? daemon::LogFormat::kJson
                                                 : daemon::LogFormat::kText);
  // Read before the manifest moves: argument evaluation order is unspecified (clang moved first).
  std::string admin = admin_override.empty() ? manifest->host.admin : admin_override;
  daemon::HostDaemon host(std::move(*manifest), std::move(admin), reporter);
  if (!cluster_url.empty()) host.join_cluster(cluster_url);
  if (credentials) host.use_credentials(std::move(*credentials));
  if (Status s = host.start(); !s) {
    reporter.error(s.error().describe());
    host.shutdown();
    return 1;
  }
  host.run_until_signal();
  return 0;
}

int cmd_cluster_init(const std::string& cluster_name, const std::vector<std::string>& host_names,
                     const std::string& kv_bucket, const std::string& out,
                     const std::vector<std::string>& tls_names, bool keep_ca_key) {
  auto auth = cluster::make_cluster_auth(cluster_name, host_names, kv_bucket);
  if (!auth) return fail(auth.error().message);
  std::optional<cluster::ClusterPki> pki;
  if (!tls_names.empty()) {
    auto made = cluster::make_cluster_pki(cluster_name, host_names, tls_names);
    if (!made) return fail(made.error().message);
    pki = std::move(*made);
  }
  auto written = daemon::write_cluster_files(std::move(*auth), out, pki, keep_ca_key);
  if (!written) return fail(written.error().message);
  std::printf(pki ? "wrote (.creds and .key files mode 0600, keep them private):\n"
                  : "wrote (mode 0600, keep them private):\n");
  for (const auto& p : *written) std::printf("  %s\n", p.c_str());
  if (keep_ca_key) {
    std::printf(
        "\n%s/ca.key lets anyone make certificates this cluster trusts: keep it off the "
        "hosts, offline if you can (`capsule cluster renew` needs it)\n",
        out.c_str());
  }
  std::printf("\nstart the server:  nats-server -c %s/nats-server.conf -js -sd <store dir>\n",
              out.c_str());
  std::printf(
      "start each host:   capsule run <manifest> --cluster %s://<server>:4222 "
      "--cluster-name %s --host <name> --credentials %s/<name>.creds\n",
      pki ? "tls" : "nats", cluster_name.c_str(), out.c_str());
  return 0;
}

int cmd_cluster_renew(const std::string& dir, const std::string& out,
                      const std::vector<std::string>& hosts,
                      const std::vector<std::string>& server_names, bool force, int days) {
  auto written = daemon::renew_cluster_certificates(dir, out, hosts, server_names, force, days);
  if (!written) return fail(written.error().message);
  std::printf("wrote (.key files mode 0600, keep them private):\n");
  for (const auto& p : *written) std::printf("  %s\n", p.c_str());
  std::printf(
      "\nhosts load their certificate when they start: restart each renewed host; "
      "nats-server reloads its own on `nats-server --signal reload`\n");
  return 0;
}

int cmd_cluster_add_host(const std::string& dir, const std::string& host,
                         const std::string& kv_bucket) {
  auto written = daemon::add_cluster_host(dir, host, kv_bucket);
  if (!written) return fail(written.error().message);
  std::printf("wrote (.creds and .key files mode 0600, keep them private):\n");
  for (const auto& p : *written) std::printf("  %s\n", p.c_str());
  std::printf(
      "\nthe server admits %s once it reads the new nats-server.conf: restart it, or "
      "`nats-server --signal reload` on nats-server >= 2.10 (2.9 turns JetStream off on a "
      "reload when -js was given on its command line)\n",
      host.c_str());
  return 0;
}

}  // namespace capsule::cli
