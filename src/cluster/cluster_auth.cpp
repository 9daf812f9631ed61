#include <array>
#include <cstdio>
#include <random>
#include <set>

#include <capsule/cluster/cluster_auth.hpp>
#include <capsule/cluster/lease_keeper.hpp>
#include <capsule/cluster/wire.hpp>
#include <capsule/core/component_id.hpp>

namespace capsule::cluster {
namespace {

std::string random_password() {
  std::random_device device;  // the kernel's CSPRNG on Linux (/dev/urandom)
  std::string out;
  for (int i = 0; i < 8; ++i) {
    std::array<char, 9> word{};
    std::snprintf(word.data(), word.size(), "%08x", static_cast<unsigned>(device()));
    out += word.data();
  }
  return out;
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += "\"" + items[i] + "\"";
  }
  return out + "]";
}

}  // namespace

Result<ClusterAuth> make_cluster_auth(const std::string& cluster,
                                      const std::vector<std::string>& hosts,
                                      const std::string& kv_bucket) {
  if (!is_valid_id_segment(cluster)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cluster name '" + cluster + "' must be [A-Za-z0-9._-]+");
  }
  if (!is_valid_id_segment(kv_bucket)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "kv bucket '" + kv_bucket + "' must be [A-Za-z0-9._-]+");
  }
  if (hosts.empty()) return make_error(ErrorCode::kInvalidArgument, "no hosts given");
  std::set<std::string> seen;
  ClusterAuth auth{cluster, kv_bucket, {}, {}};
  for (const auto& h : hosts) {
    if (!is_valid_id_segment(h)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "host name '" + h + "' must be [A-Za-z0-9._-]+");
    }
    if (!seen.insert(h).second) {
      return make_error(ErrorCode::kInvalidArgument, "host '" + h + "' is listed twice");
    }
    auth.hosts.push_back({cluster, h, h, random_password(), {}});
  }
  return auth;
}

std::string ClusterAuth::server_config() const {
  const std::string base = "capsule." + subject_token(cluster) + ".f.";
  std::string out =
      "# nats-server configuration for capsule cluster '" + cluster +
      "', written by `capsule cluster init`.\n"
      "# One user per host. A host may publish only under its own name, so receivers know which\n"
      "# host sent each message; clients without credentials are refused.\n"
      "# Start: nats-server -c <this file> [-js -sd <store dir>]   (JetStream: nats-kv storage, "
      "failover leases)\n"
      "authorization {\n  users = [\n";
  for (const auto& h : hosts) {
    const std::string me = subject_token(h.host);
    const std::vector<std::string> publish{base + me + ".>", "_INBOX.>", "$JS.API.>",
                                           "$KV." + kv_bucket + ".>",
                                           "$KV." + lease_bucket(cluster) + ".>"};
    std::string own_replies = base;
    own_replies.append("*.h.").append(me).append(".>");
    std::string own_components = base;
    own_components.append("*.c.").append(me).append(".>");
    const std::vector<std::string> subscribe{own_components, own_replies, base + "*.t.>",
                                             base + "*.hosts", "_INBOX.>"};
    out += "    {\n      user: \"" + h.user + "\"\n      password: \"" + h.password +
           "\"\n      permissions: {\n        publish: { allow: " + quoted_list(publish) +
           " }\n        subscribe: { allow: " + quoted_list(subscribe) + " }\n      }\n    }\n";
  }
  out += "  ]\n}\n";
  if (server_tls.enabled()) {
    // verify: a client without a certificate from the cluster's CA fails the handshake, before
    // any user or password is looked at. No verify_and_map: the password stays the identity.
    out +=
        "# TLS only: plain connections are refused, and every client must present a certificate\n"
        "# signed by the cluster's CA (then its user and password are checked as above).\n"
        "tls {\n  cert_file: \"" +
        server_tls.cert.string() + "\"\n  key_file: \"" + server_tls.key.string() +
        "\"\n  ca_file: \"" + server_tls.ca.string() + "\"\n  verify: true\n  timeout: 2\n}\n";
  }
  return out;
}

std::string credentials_file(const HostCredentials& c) {
  return "# capsule cluster credentials of host '" + c.host + "' in cluster '" + c.cluster +
         "'. Keep this file private.\n"
         "# Use: capsule run <manifest> --cluster nats://<server> --credentials <this file>\n"
         "cluster = \"" +
         c.cluster + "\"\nhost = \"" + c.host + "\"\nuser = \"" + c.user + "\"\npassword = \"" +
         c.password + "\"\n" +
         (c.tls.enabled() ? "# TLS to the server (paths relative to this file)\ntls_ca = \"" +
                                c.tls.ca.string() + "\"\ntls_cert = \"" + c.tls.cert.string() +
                                "\"\ntls_key = \"" + c.tls.key.string() + "\"\n"
                          : std::string{});
}

}  // namespace capsule::cluster
