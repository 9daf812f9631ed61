#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <capsule/core/result.hpp>
#include <capsule/security/audit.hpp>
#include <capsule/security/audit_throttle.hpp>

#include "admin_auth.hpp"
#include "dashboard_door.hpp"
#include "http.hpp"
#include "reporter.hpp"

namespace capsule::daemon {

// The host's admin API listeners and what guards them (docs/cli.md, "Access"):
// * a Unix socket, <data_dir>/admin.sock, mode 0600: always; the kernel names the caller;
// * a loopback TCP listener: only when configured, and then every request shows the bearer token
//   kept in <data_dir>/admin.token (created, and printed once, on the first start with TCP) and
//   passes the Host/Origin checks;
// * the audit log: every admin action (a POST) with who made it and how it ended, and every
//   request refused at the TCP door (throttled per client address, like component denials);
// * the dashboard's door (DashboardDoor): POST /v1/dashboard-code hands an admitted client a
//   one-time login link; GET /dashboard/login?code= on the TCP listener turns it into a session
//   cookie that stands in for the token there.
class AdminEndpoints {
 public:
  AdminEndpoints(Reporter& reporter, std::shared_ptr<security::AuditSink> audit);

  [[nodiscard]] Status open(const std::filesystem::path& data_dir, const std::string& tcp_address,
                            HttpServer::Handler handler);
  void close();

  // One audit record for a request that reached the handler, with its answer.
  void audit(const HttpRequest& request, const HttpResponse& response);

  [[nodiscard]] const std::filesystem::path& socket_path() const { return socket_path_; }
  [[nodiscard]] unsigned short tcp_port() const { return tcp_.port(); }

 private:
  std::optional<HttpResponse> admit_tcp(const HttpRequest& request);
  std::optional<HttpResponse> refuse_at_door(const HttpRequest& request, HttpResponse refusal);
  // The door's own routes (the code and the login); nullopt for every other request.
  std::optional<HttpResponse> door_route(const HttpRequest& request);
  HttpResponse login(const HttpRequest& request);
  [[nodiscard]] std::string tcp_url() const;

  Reporter& reporter_;
  std::shared_ptr<security::AuditSink> audit_;
  // As many refusal records per client address and second as AccessGuard writes per component.
  security::AuditThrottle refusals_{20};
  std::optional<AdminToken> token_;
  DashboardDoor door_;
  mutable std::mutex url_mutex_;
  std::string tcp_url_;  // "http://127.0.0.1:7070" once the TCP listener is bound; "" without
  std::filesystem::path socket_path_;
  HttpServer unix_;
  HttpServer tcp_;
};

}  // namespace capsule::daemon
