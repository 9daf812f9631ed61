#include "admin_endpoints.hpp"

#include <nlohmann/json.hpp>

namespace capsule::cli {
namespace {

using nlohmann::json;

// "/v1/stop" -> "admin.stop"; what the audit log calls the route.
std::string action_of(const HttpRequest& r) {
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
  // The filesystem is the Unix socket's gate: mode 0600, so only this user (and root) connects.
  if (Status s = unix_.start_unix(socket_path_, handler, nullptr); !s) return s;
  reporter_.info("admin endpoint ready", {{"socket", socket_path_.string()}});
  if (tcp_address.empty()) return ok();
  const auto token_file = data_dir / "admin.token";
  auto token = AdminToken::load_or_create(token_file);
  if (!token) return std::move(token).error();
  token_ = std::move(*token);
  if (Status s = tcp_.start_tcp(tcp_address, std::move(handler),
                                [this](const HttpRequest& r) { return admit_tcp(r); });
      !s) {
    return s;
  }
  const std::string url =
      "http://" + tcp_address.substr(0, tcp_address.rfind(':')) + ":" + std::to_string(tcp_.port());
  if (token_->created()) {
    // The one time it is shown: later starts reuse the file and print only where it is.
    reporter_.warn("admin token created; TCP clients send it as 'Authorization: Bearer <token>'",
                   {{"token", token_->text()}, {"file", token_file.string()}});
  }
  reporter_.info("admin TCP endpoint ready (bearer token required)",
                 {{"url", url}, {"token_file", token_file.string()}});
  return ok();
}

void AdminEndpoints::close() {
  tcp_.stop();
  unix_.stop();
}

std::optional<HttpResponse> AdminEndpoints::admit_tcp(const HttpRequest& request) {
  auto refusal = check_tcp_request(request, *token_);
  if (!refusal || !audit_) return refusal;
  const auto left_out = refusals_.admit(client_of(request), std::chrono::steady_clock::now());
  if (!left_out) return refusal;
  std::string outcome = outcome_of(*refusal);
  if (*left_out > 0) {
    outcome += " (" + std::to_string(*left_out) + " similar records suppressed before this one)";
  }
  audit_->record_admin({security::Clock::now(), caller_of(request, false), action_of(request),
                        request.method + " " + request.path, false, std::move(outcome)});
  return refusal;
}

void AdminEndpoints::audit(const HttpRequest& request, const HttpResponse& response) {
  // Reads (ps, health, hosts, metrics) change nothing and are polled: only actions are recorded.
  if (!audit_ || request.method != "POST") return;
  const bool refused = response.status == 401 || response.status == 403;
  audit_->record_admin({security::Clock::now(), caller_of(request, true), action_of(request),
                        target_of(request), !refused, outcome_of(response)});
}

}  // namespace capsule::cli
