#pragma once
// What the TLS tests share: a directory of PEM files, a raw cnats client with a certificate, a
// parsed certificate, and a cluster PKI with a server configuration that requires it.
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string>
#include <unistd.h>
#include <vector>

#include <capsule/cluster/cluster_auth.hpp>
#include <capsule/cluster/cluster_pki.hpp>
#include <capsule/cluster/tls_files.hpp>

namespace capsule::cluster::testing {

// A directory of PEM files, removed at the end.
class PemDir {
 public:
  PemDir() {
    std::string dir = (std::filesystem::temp_directory_path() / "capsule-tls-XXXXXX").string();
    if (::mkdtemp(dir.data()) != nullptr) path_ = dir;
  }
  ~PemDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  PemDir(const PemDir&) = delete;
  PemDir& operator=(const PemDir&) = delete;

  std::filesystem::path write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::ofstream(file) << text;
    return file;
  }
  // <prefix>ca.pem, <prefix><host>.pem/.key for every host of `pki`.
  void write_all(const ClusterPki& pki, const std::string& prefix) const {
    write(prefix + "ca.pem", pki.ca.certificate);
    write(prefix + "nats-server.pem", pki.server.certificate);
    write(prefix + "nats-server.key", pki.server.private_key);
    for (const auto& h : pki.hosts) {
      write(prefix + h.name + ".pem", h.client.certificate);
      write(prefix + h.name + ".key", h.client.private_key);
    }
  }
  [[nodiscard]] TlsFiles files(const std::string& prefix, const std::string& host) const {
    return {path_ / (prefix + "ca.pem"), path_ / (prefix + host + ".pem"),
            path_ / (prefix + host + ".key")};
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline ClusterPki make_pki(const std::vector<std::string>& hosts) {
  auto pki = make_cluster_pki("test", hosts, {"localhost", "127.0.0.1"});
  EXPECT_TRUE(pki) << pki.error().describe();
  return pki ? std::move(*pki) : ClusterPki{};
}

// What the server runs with: per-host users as `cluster init` writes them, plus TLS.
inline std::string server_config(ClusterAuth& auth, const PemDir& dir) {
  auth.server_tls = {dir.path() / "ca.pem", dir.path() / "nats-server.pem",
                     dir.path() / "nats-server.key"};
  return auth.server_config();
}

// A raw cnats client: `tls` as a host would use it (nothing: plain), with a user and password.
struct Client {
  Client(const std::string& url, const HostCredentials& login, const TlsFiles& tls) {
    natsOptions* opts = nullptr;
    natsOptions_Create(&opts);
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetTimeout(opts, 2000);
    natsOptions_SetUserInfo(opts, login.user.c_str(), login.password.c_str());
    if (!tls.ca.empty()) {
      natsOptions_SetSecure(opts, true);
      natsOptions_LoadCATrustedCertificates(opts, tls.ca.c_str());
    }
    if (!tls.cert.empty())
      natsOptions_LoadCertificatesChain(opts, tls.cert.c_str(), tls.key.c_str());
    status = natsConnection_Connect(&conn, opts);
    natsOptions_Destroy(opts);
  }
  ~Client() { natsConnection_Destroy(conn); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  natsConnection* conn = nullptr;
  natsStatus status = NATS_OK;
};

// A PEM certificate parsed by OpenSSL, freed at the end.
struct ParsedCert {
  explicit ParsedCert(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
  }
  ~ParsedCert() { X509_free(cert); }
  ParsedCert(const ParsedCert&) = delete;
  ParsedCert& operator=(const ParsedCert&) = delete;
  [[nodiscard]] std::string common_name() const {
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
    return buf;
  }
  X509* cert = nullptr;
};

}  // namespace capsule::cluster::testing
