// Certificates for `capsule cluster init --tls`, made in-process with OpenSSL's libcrypto (no
// openssl command line, so nothing depends on what is on PATH and no key ever touches argv).
#include <arpa/inet.h>
#include <memory>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <capsule/cluster/cluster_pki.hpp>
#include <capsule/core/component_id.hpp>

namespace capsule::cluster {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const noexcept { X509_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct BnFree {
  void operator()(BIGNUM* n) const noexcept { BN_free(n); }
};
struct ExtensionFree {
  void operator()(X509_EXTENSION* e) const noexcept { X509_EXTENSION_free(e); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;
using Bio = std::unique_ptr<BIO, BioFree>;

// The failed step and OpenSSL's reason (its error queue is per thread; this empties it).
Error openssl_error(const std::string& what) {
  std::string message = "generating cluster certificates: " + what;
  if (const unsigned long e = ERR_get_error(); e != 0) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    message += std::string(" (") + text + ")";
  }
  ERR_clear_error();
  return make_error(ErrorCode::kInternal, std::move(message));
}

// A certificate and the key that signs what it issues.
struct Issuer {
  X509* cert;
  EVP_PKEY* key;
};

enum class Kind : std::uint8_t { kCa, kServer, kClient };

bool add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  const std::unique_ptr<X509_EXTENSION, ExtensionFree> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1;
}

Result<std::string> pem_of(const Cert& cert, const Key& key, bool want_key) {
  const Bio bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return openssl_error("memory buffer");
  const int written = want_key ? PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0,
                                                          nullptr, nullptr)
                               : PEM_write_bio_X509(bio.get(), cert.get());
  if (written != 1) return openssl_error(want_key ? "writing a key" : "writing a certificate");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// One certificate with a fresh key, signed by `issuer` (itself when null: the CA), valid from an
// hour ago for `validity_days` (a negative count makes one that has expired already: for tests).
Result<std::pair<Cert, Key>> issue(Kind kind, const std::string& organization,
                                   const std::string& common_name, const std::string& alt_names,
                                   const Issuer* issuer, int validity_days) {
  Key key(EVP_EC_gen("P-256"));
  if (key == nullptr) return openssl_error("an EC P-256 key");
  Cert cert(X509_new());
  if (cert == nullptr) return openssl_error("a certificate");
  X509* x = cert.get();
  // 159 random bits: positive, unique per certificate (RFC 5280 allows up to 20 octets).
  const std::unique_ptr<BIGNUM, BnFree> serial(BN_new());
  const long not_before = validity_days > 0 ? -3600L : 86400L * (validity_days - 1);
  if (serial == nullptr || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x)) == nullptr ||
      X509_set_version(x, X509_VERSION_3) != 1 ||
      // An hour back: a host whose clock is a little behind the one that made it accepts it.
      X509_gmtime_adj(X509_getm_notBefore(x), not_before) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(x), 86400L * validity_days) == nullptr ||
      X509_set_pubkey(x, key.get()) != 1) {
    return openssl_error("certificate fields");
  }
  X509_NAME* subject = X509_get_subject_name(x);
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
  const auto* org = reinterpret_cast<const unsigned char*>(organization.c_str());
  if (X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8, org, -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, cn, -1, -1, 0) != 1) {
    return openssl_error("subject name");
  }
  X509* signer_cert = issuer != nullptr ? issuer->cert : x;
  EVP_PKEY* signer_key = issuer != nullptr ? issuer->key : key.get();
  if (X509_set_issuer_name(x, X509_get_subject_name(signer_cert)) != 1) {
    return openssl_error("issuer name");
  }
  std::vector<std::pair<int, std::string>> extensions;
  switch (kind) {
    case Kind::kCa:
      extensions = {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                    {NID_key_usage, "critical,keyCertSign,cRLSign"},
                    {NID_subject_key_identifier, "hash"}};
      break;
    case Kind::kServer:
      extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                    {NID_key_usage, "critical,digitalSignature"},
                    {NID_ext_key_usage, "serverAuth"},
                    {NID_subject_alt_name, alt_names},
                    {NID_authority_key_identifier, "keyid:always"}};
      break;
    case Kind::kClient:
      extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                    {NID_key_usage, "critical,digitalSignature"},
                    {NID_ext_key_usage, "clientAuth"},
                    {NID_authority_key_identifier, "keyid:always"}};
      break;
  }
  for (const auto& [nid, value] : extensions) {
    if (!add_extension(x, signer_cert, nid, value)) {
      return openssl_error(std::string("extension ") + OBJ_nid2sn(nid) + " = " + value);
    }
  }
  if (X509_sign(x, signer_key, EVP_sha256()) == 0) return openssl_error("signing");
  return std::pair<Cert, Key>{std::move(cert), std::move(key)};
}

Result<CertifiedKey> pem_pair(const std::pair<Cert, Key>& issued) {
  auto cert = pem_of(issued.first, issued.second, false);
  if (!cert) return std::move(cert).error();
  auto key = pem_of(issued.first, issued.second, true);
  if (!key) return std::move(key).error();
  return CertifiedKey{std::move(*cert), std::move(*key)};
}

std::string organization_of(const std::string& cluster) {
  return "capsule cluster " + cluster;
}

bool is_ip_address(const std::string& name) {
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, name.c_str(), &v4) == 1 || inet_pton(AF_INET6, name.c_str(), &v6) == 1;
}

// DNS names (letters, digits, '-', '.', one leading "*."): nothing that could end the
// subjectAltName list early (a ',' would add an entry of the caller's choosing).
bool is_dns_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  const std::size_t start = name.rfind("*.", 0) == 0 ? 2 : 0;
  if (start == name.size()) return false;
  for (std::size_t i = start; i < name.size(); ++i) {
    const char c = name[i];
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!allowed) return false;
  }
  return true;
}

// The subjectAltName list of a server certificate for `server_names`.
Result<std::string> alt_names_of(const std::vector<std::string>& server_names) {
  if (server_names.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "the server certificate needs at least a name");
  }
  std::string alt_names;
  for (const auto& n : server_names) {
    if (!alt_names.empty()) alt_names += ",";
    if (is_ip_address(n)) {
      alt_names += "IP:" + n;
    } else if (is_dns_name(n)) {
      alt_names += "DNS:" + n;
    } else {
      return make_error(ErrorCode::kInvalidArgument,
                        "server name '" + n + "' is neither a DNS name nor an IP address");
    }
  }
  return alt_names;
}

Result<CertifiedKey> issue_pem(Kind kind, const std::string& organization,
                               const std::string& common_name, const std::string& alt_names,
                               const Issuer& signer, int validity_days) {
  auto issued = issue(kind, organization, common_name, alt_names, &signer, validity_days);
  if (!issued) return std::move(issued).error();
  return pem_pair(*issued);
}

Status check_host_name(const std::string& host) {
  if (is_valid_id_segment(host)) return ok();
  return make_error(ErrorCode::kInvalidArgument,
                    "host name '" + host + "' must be [A-Za-z0-9._-]+");
}

// The CA of `ca` (PEM) as an issuer: its certificate must be a CA and the key its own.
struct LoadedCa {
  Cert cert;
  Key key;
  std::string organization;  // of its subject, given to what it issues
};

Result<LoadedCa> load_ca(const CertifiedKey& ca) {
  const Bio cert_bio(
      BIO_new_mem_buf(ca.certificate.data(), static_cast<int>(ca.certificate.size())));
  const Bio key_bio(
      BIO_new_mem_buf(ca.private_key.data(), static_cast<int>(ca.private_key.size())));
  if (cert_bio == nullptr || key_bio == nullptr) return openssl_error("memory buffer");
  LoadedCa out;
  out.cert.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (out.cert == nullptr) return openssl_error("reading the CA certificate (not PEM?)");
  out.key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (out.key == nullptr) return openssl_error("reading the CA key (not PEM?)");
  if (X509_check_ca(out.cert.get()) == 0) {
    return make_error(ErrorCode::kInvalidArgument, "the CA certificate is not a CA's");
  }
  if (X509_check_private_key(out.cert.get(), out.key.get()) != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::kInvalidArgument, "the CA key is not the CA certificate's key");
  }
  X509_NAME* subject = X509_get_subject_name(out.cert.get());
  const int at = X509_NAME_get_index_by_NID(subject, NID_organizationName, -1);
  const ASN1_STRING* org =
      at >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)) : nullptr;
  if (org == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "the CA certificate names no organization");
  }
  out.organization.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(org)),
                          static_cast<std::size_t>(ASN1_STRING_length(org)));
  return out;
}

}  // namespace

Result<CertifiedKey> issue_host_certificate(const CertifiedKey& ca, const std::string& host,
                                            int valid_days) {
  if (Status s = check_host_name(host); !s) return std::move(s).error();
  auto loaded = load_ca(ca);
  if (!loaded) return std::move(loaded).error();
  return issue_pem(Kind::kClient, loaded->organization, host, {},
                   {loaded->cert.get(), loaded->key.get()}, valid_days);
}

Result<CertifiedKey> issue_server_certificate(const CertifiedKey& ca,
                                              const std::vector<std::string>& server_names,
                                              int valid_days) {
  auto alt_names = alt_names_of(server_names);
  if (!alt_names) return std::move(alt_names).error();
  auto loaded = load_ca(ca);
  if (!loaded) return std::move(loaded).error();
  return issue_pem(Kind::kServer, loaded->organization, "nats-server", *alt_names,
                   {loaded->cert.get(), loaded->key.get()}, valid_days);
}

Result<ClusterPki> make_cluster_pki(const std::string& cluster,
                                    const std::vector<std::string>& hosts,
                                    const std::vector<std::string>& server_names) {
  if (!is_valid_id_segment(cluster)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cluster name '" + cluster + "' must be [A-Za-z0-9._-]+");
  }
  auto alt_names = alt_names_of(server_names);
  if (!alt_names) return std::move(alt_names).error();
  const std::string organization = organization_of(cluster);
  auto ca = issue(Kind::kCa, organization, organization + " CA", {}, nullptr, kCaValidDays);
  if (!ca) return std::move(ca).error();
  const Issuer signer{ca->first.get(), ca->second.get()};
  ClusterPki pki;
  auto ca_pem = pem_pair(*ca);
  if (!ca_pem) return std::move(ca_pem).error();
  pki.ca = std::move(*ca_pem);
  auto server =
      issue_pem(Kind::kServer, organization, "nats-server", *alt_names, signer, kLeafValidDays);
  if (!server) return std::move(server).error();
  pki.server = std::move(*server);
  for (const auto& h : hosts) {
    if (Status s = check_host_name(h); !s) return std::move(s).error();
    auto client = issue_pem(Kind::kClient, organization, h, {}, signer, kLeafValidDays);
    if (!client) return std::move(client).error();
    pki.hosts.push_back({h, std::move(*client)});
  }
  return pki;
}

}  // namespace capsule::cluster
