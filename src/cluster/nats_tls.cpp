// TLS on the host's NATS connections (bridge, KV storage, leases): all of them start from
// nats::client_options, which calls use_tls.
#include "nats_tls.hpp"

#include <initializer_list>

#include <capsule/core/readable_file.hpp>

#include "nats_handles.hpp"

namespace capsule::cluster::nats {
namespace {

Status readable(const std::filesystem::path& file, const char* what) {
  if (const std::string why = why_unreadable(file); !why.empty()) {
    return make_error(
        ErrorCode::kInvalidArgument,
        std::string("cluster TLS ") + what + " " + file.string() + ": cannot read (" + why + ")");
  }
  return ok();
}

}  // namespace

std::string tls_hint(natsStatus s) {
  switch (s) {
    case NATS_SECURE_CONNECTION_WANTED:
      return ": this host is configured for TLS but the server does not offer it";
    case NATS_SECURE_CONNECTION_REQUIRED:
      return ": the server requires TLS; give this host [host.cluster_tls] or a .creds file from "
             "`capsule cluster init --tls`";
    case NATS_SSL_ERROR:
      // cnats answers a server that requires TLS with a handshake even when this host has no
      // TLS files; without a CA it then cannot verify the server, so that case lands here too.
      return ": TLS handshake failed: the server's certificate is not signed by this host's CA "
             "(a host needs [host.cluster_tls] or a .creds file from `capsule cluster init --tls` "
             "to have one) or does not name the URL's host, or the server refused this host's "
             "certificate";
    default:
      return {};
  }
}

std::string url_host(const std::string& url) {
  std::size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  if (const auto at = url.find('@', start); at != std::string::npos) start = at + 1;
  if (start < url.size() && url[start] == '[') {
    const auto close = url.find(']', start);
    return close == std::string::npos ? std::string{} : url.substr(start + 1, close - start - 1);
  }
  const auto end = url.find_first_of(":/", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

Status use_tls(natsOptions* options, const std::string& url, const TlsFiles& tls) {
  if (!tls.enabled()) {
    if (url.rfind("tls://", 0) == 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        url +
                            ": a tls:// URL needs this host's TLS files: [host.cluster_tls] or "
                            "a .creds file from `capsule cluster init --tls`");
    }
    return ok();
  }
  if (tls.ca.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cluster TLS needs a CA certificate to verify the server with (tls ca)");
  }
  if (tls.cert.empty() != tls.key.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cluster TLS: a client certificate and its key come together (tls cert and "
                      "tls key)");
  }
  if (Status s = readable(tls.ca, "CA certificate"); !s) return s;
  if (!tls.cert.empty()) {
    if (Status s = readable(tls.cert, "certificate"); !s) return s;
    if (Status s = readable(tls.key, "key"); !s) return s;
  }
  // cnats checks the server certificate's chain against the CA; the name only when told which
  // (without it any certificate the CA signed would do, for any server).
  // cnats takes a comma-separated list of servers, but one expected name for all of them: a
  // list would have every other server checked against the first one's name.
  if (url.find(',') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cluster TLS: give one server URL, not a list (" + url + ")");
  }
  const std::string host = url_host(url);
  if (host.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cluster TLS: no host name in " + url + " to verify the server against");
  }
  for (const auto& [status, what] : std::initializer_list<std::pair<natsStatus, std::string>>{
           {natsOptions_SetSecure(options, true), "secure"},
           {natsOptions_LoadCATrustedCertificates(options, tls.ca.c_str()),
            "CA certificate " + tls.ca.string()},
           {natsOptions_SetExpectedHostname(options, host.c_str()), "expected host name"},
       }) {
    if (Status s = check(status, "cluster TLS " + what); !s) return s;
  }
  if (!tls.cert.empty()) {
    if (Status s =
            check(natsOptions_LoadCertificatesChain(options, tls.cert.c_str(), tls.key.c_str()),
                  "cluster TLS certificate " + tls.cert.string() + " with key " + tls.key.string());
        !s) {
      return s;
    }
  }
  return ok();
}

}  // namespace capsule::cluster::nats
