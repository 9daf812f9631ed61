#pragma once

#include <filesystem>

namespace capsule::cluster {

// The PEM files of one end of a TLS connection to nats-server: the CA certificate(s) it trusts to
// have signed the other end's certificate, and its own certificate (chain) and private key.
// A host with `ca` set connects only over TLS and only to a server whose certificate chains to
// `ca` and names the host of the URL; `cert` and `key` (both or neither) are what it presents
// when the server asks for a client certificate (`cluster init --tls` servers always do).
struct TlsFiles {
  std::filesystem::path ca;
  std::filesystem::path cert;
  std::filesystem::path key;

  [[nodiscard]] bool enabled() const { return !ca.empty() || !cert.empty() || !key.empty(); }
};

}  // namespace capsule::cluster
