#pragma once

#include <nats/nats.h>
#include <string>

#include <capsule/cluster/tls_files.hpp>
#include <capsule/core/result.hpp>

namespace capsule::cluster::nats {

// Makes `options` connect over TLS only, verifying the server against `tls.ca` (chain and the
// URL's host name) and presenting `tls.cert`/`tls.key`. Every file is checked readable first,
// so a wrong path is an error naming it, not an OpenSSL message. Nothing when !tls.enabled().
[[nodiscard]] Status use_tls(natsOptions* options, const std::string& url, const TlsFiles& tls);

// What a TLS failure means in the operator's terms (cnats' texts name neither side's setting):
// ": ..." for the TLS statuses, empty for others.
[[nodiscard]] std::string tls_hint(natsStatus s);

// The host part of a NATS URL ("tls://user:pw@[::1]:4222" -> "::1"), empty if it has none.
[[nodiscard]] std::string url_host(const std::string& url);

}  // namespace capsule::cluster::nats
