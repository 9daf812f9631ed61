#include "admin_endpoints.hpp"

#include <nlohmann/json.hpp>

namespace capsule::daemon {
namespace {

using nlohmann::json;

// "/v1/stop" -> "admin.stop"; what the audit log calls the route.
std::string action_of(const HttpRequest& r) {
  if (r.path == "/dashboard/login") return "admin.dashboard-login";
  const std::string_view prefix = "/v1/";
  if (r.path.rfind(prefix, 0) == 0 && r.path.size() > prefix.size() &&
      r.path.find('/', prefix.size()) == std::string::npos) {
    return "admin." + r.path.substr(prefix.size());
  }
  return "admin.request";
}

// What an admin action was about, from its (already validated, or not) JSON body.
std::string target_of(const HttpRequest& r) {
  const json body = json::parse(r.body, nullptr, false);
  if (!body.is_object()) return r.method + " " + r.path;
  auto text = [&](const char* key) {
    const auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (const std::string file = text("path"); !file.empty())
    return text("component") + " <- " + file;
  if (std::string component = text("component"); !component.empty()) return component;
  if (std::string route = text("route"); !route.empty()) return route;
  if (std::string target = text("target"); !target.empty()) return target;
  return r.method + " " + r.path;
}

// "ok", or the status and the error message of a JSON error answer.
std::string outcome_of(const HttpResponse& response) {
  if (response.status >= 200 && response.status < 300) return "ok";
  const json body = json::parse(response.body, nullptr, false);
  std::string message;
  if (body.is_object() && body.contains("error")) {
    const json& e = body["error"];
    message = e.is_object() ? e.value("message", "") : e.is_string() ? e.get<std::string>() : "";
  }
  return std::to_string(response.status) + (message.empty() ? "" : " " + message);
}

// A TCP client's address without its port: refusals are throttled per client, not per
// connection.
std::string client_of(const HttpRequest& r) {
  return r.peer.unix_socket ? "unix" : r.peer.address.substr(0, r.peer.address.rfind(':'));
}

}  // namespace

AdminEndpoints::AdminEndpoints(Reporter& reporter, std::shared_ptr<security::AuditSink> audit)
    : reporter_(reporter), audit_(std::move(audit)) {}

Status AdminEndpoints::open(const std::filesystem::path& data_dir, const std::string& tcp_address,
                            HttpServer::Handler handler) {
  socket_path_ = data_dir / "admin.sock";
  // The door's routes first; then the daemon's.
  HttpServer::Handler routed = [this, handler = std::move(handler)](const HttpRequest& r) {
    if (auto answer = door_route(r)) return *answer;
    return handler(r);
  };
  // The filesystem is the Unix socket's gate: mode 0600, so only this user (and root) connects.
  if (Status s = unix_.start_unix(socket_path_, routed, nullptr); !s) return s;
  reporter_.info("admin endpoint ready", {{"socket", socket_path_.string()}});
  if (tcp_address.empty()) return ok();
  const auto token_file = data_dir / "admin.token";
  auto token = AdminToken::load_or_create(token_file);
  if (!token) return std::move(token).error();
  token_ = std::move(*token);
  if (Status s = tcp_.start_tcp(tcp_address, std::move(routed),
                                [this](const HttpRequest& r) { return admit_tcp(r); });
      !s) {
    return s;
  }
  const std::string url =
      "http://" + tcp_address.substr(0, tcp_address.rfind(':')) + ":" + std::to_string(tcp_.port());
  {
    std::lock_guard lock(url_mutex_);
    tcp_url_ = url;
  }
  if (token_->created()) {
    // The one time it is shown: later starts reuse the file and print only where it is.
    reporter_.warn("admin token created; TCP clients send it as 'Authorization: Bearer <token>'",
                   {{"token", token_->text()}, {"file", token_file.string()}});
  }
  reporter_.info("admin TCP endpoint ready (bearer token required)",
                 {{"url", url}, {"token_file", token_file.string()}});
  reporter_.info("dashboard at " + url + "/dashboard/ (`capsule dashboard` prints a login link)");
  return ok();
}

void AdminEndpoints::close() {
  tcp_.stop();
  unix_.stop();
}

std::optional<HttpResponse> AdminEndpoints::admit_tcp(const HttpRequest& request) {
  if (auto refusal = check_host_origin(request)) return refuse_at_door(request, *refusal);
  // The code in the URL is the credential: login() checks (and audits) it.
  if (request.path == "/dashboard/login") return std::nullopt;
  const std::string session = request.cookie(DashboardDoor::cookie_name(request.local_port));
  if (!session.empty() && !request.has_header("Authorization")) {
    if (!door_.valid_session(session)) {
      return refuse_at_door(request, auth_refusal(401, "unauthorized",
                                                  "unknown or expired dashboard session: run "
                                                  "`capsule dashboard` for a new login link"));
    }
    // SameSite=Strict keeps the cookie off other sites' requests; a page of this listener that
    // acts (POST) must also say where it comes from (check_host_origin checked what it says).
    if (request.method != "GET" && !request.has_header("Origin")) {
      return refuse_at_door(request, auth_refusal(403, "forbidden",
                                                  "a dashboard session's " + request.method +
                                                      " must carry the page's Origin header"));
    }
    return std::nullopt;
  }
  if (auto refusal = check_bearer(request, *token_)) return refuse_at_door(request, *refusal);
  return std::nullopt;
}

std::optional<HttpResponse> AdminEndpoints::refuse_at_door(const HttpRequest& request,
                                                           HttpResponse refusal) {
  if (!audit_) return refusal;
  const auto left_out = refusals_.admit(client_of(request), std::chrono::steady_clock::now());
  if (!left_out) return refusal;
  std::string outcome = outcome_of(refusal);
  if (*left_out > 0) {
    outcome += " (" + std::to_string(*left_out) + " similar records suppressed before this one)";
  }
  audit_->record_admin({security::Clock::now(), caller_of(request, false), action_of(request),
                        request.method + " " + request.path, false, std::move(outcome)});
  return refusal;
}

std::string AdminEndpoints::tcp_url() const {
  std::lock_guard lock(url_mutex_);
  return tcp_url_;
}

std::optional<HttpResponse> AdminEndpoints::door_route(const HttpRequest& request) {
  if (request.path == "/dashboard/login" && request.method == "GET") {
    if (request.peer.unix_socket) return std::nullopt;  // no browser there: the daemon's 404
    return login(request);
  }
  if (request.path != "/v1/dashboard-code" || request.method != "POST") return std::nullopt;
  HttpResponse answer;
  const std::string url = tcp_url();
  if (url.empty()) {
    answer = auth_refusal(409, "conflict",
                          "the dashboard is served on the admin TCP listener, and this host has "
                          "none: start it with --admin 127.0.0.1:<port> (or [host].admin)");
  } else if (auto code = door_.issue_code(); !code) {
    answer = auth_refusal(503, "unavailable", code.error().message);
  } else {
    answer.body = nlohmann::json{{"ok", true},
                                 {"url", url + "/dashboard/login?code=" + *code},
                                 {"expires_in_s", DashboardDoor::kCodeLifetime.count()}}
                      .dump();
  }
  audit(request, answer);
  return answer;
}

HttpResponse AdminEndpoints::login(const HttpRequest& request) {
  auto session = door_.exchange(request.param("code"));
  if (!session) {
    HttpResponse refusal = auth_refusal(403, "forbidden", session.error().message);
    static_cast<void>(refuse_at_door(request, refusal));
    return refusal;
  }
  if (audit_) {
    audit_->record_admin(
        {security::Clock::now(), "tcp:" + request.peer.address, "admin.dashboard-login",
         "GET /dashboard/login", true,
         "ok (session cookie " + DashboardDoor::cookie_name(request.local_port) + ")"});
  }
  HttpResponse answer{303, "text/plain", "logged in: /dashboard/\n"};
  answer.headers = {{"Set-Cookie", DashboardDoor::set_cookie(*session, request.local_port)},
                    {"Location", "/dashboard/"},
                    // The code in this URL is spent, but it need not travel further.
                    {"Referrer-Policy", "no-referrer"},
                    {"Cache-Control", "no-store"}};
  return answer;
}

void AdminEndpoints::audit(const HttpRequest& request, const HttpResponse& response) {
  // Reads (ps, health, hosts, metrics) change nothing and are polled: only actions are recorded.
  if (!audit_ || request.method != "POST") return;
  const bool refused = response.status == 401 || response.status == 403;
  audit_->record_admin({security::Clock::now(), caller_of(request, true), action_of(request),
                        target_of(request), !refused, outcome_of(response)});
}

}  // namespace capsule::daemon
