#include "http.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace capsule::cli {
namespace {

// {"ok":false,"error":...}: what every failure of the endpoint looks like to a client.
std::string error_body(const std::string& text) {
  return nlohmann::json{{"ok", false}, {"error", text}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The text for a status cpp-httplib answered by itself (the request never reached a handler).
std::string refusal(int status) {
  switch (status) {
    case 400:
      return "malformed HTTP request (request line, headers or Content-Length)";
    case 404:
      return "no such route";
    case 405:
      return "method not allowed";
    case 413:
      return "request body too large";
    case 414:
      return "request line too long";
    case 431:
      return "request headers too large";
    default:
      return "request refused (HTTP " + std::to_string(status) + ")";
  }
}

// "127.0.0.1:7070", "localhost:7070", "[::1]:7070" (the port optional, and then any).
bool is_loopback_authority(const std::string& authority, unsigned short port) {
  std::string name = authority;
  if (const auto colon = authority.rfind(':');
      colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    if (authority.substr(colon + 1) != std::to_string(port)) return false;
    name = authority.substr(0, colon);
  }
  return name == "127.0.0.1" || name == "localhost" || name == "[::1]";
}

}  // namespace

Result<asio::ip::tcp::endpoint> loopback_endpoint(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "admin address '" + address + "' is not host:port");
  }
  asio::error_code ec;
  const auto ip = asio::ip::make_address(address.substr(0, colon), ec);
  if (ec || !ip.is_loopback()) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "admin address '" + address + "' must be a loopback address (127.0.0.1 or ::1)");
  }
  int port = -1;
  const std::string digits = address.substr(colon + 1);
  if (!digits.empty() && digits.size() <= 5 &&
      digits.find_first_not_of("0123456789") == std::string::npos) {
    port = std::stoi(digits);
  }
  if (port < 0 || port > 65535) {
    return make_error(ErrorCode::kInvalidArgument,
                      "admin address '" + address + "' has a bad port");
  }
  return asio::ip::tcp::endpoint(ip, static_cast<unsigned short>(port));
}

HttpServer::HttpServer() : server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() {
  stop();
}

Status HttpServer::start(const std::string& address, Handler handler, HttpLimits limits) {
  auto endpoint = loopback_endpoint(address);
  if (!endpoint) return std::move(endpoint).error();
  handler_ = std::move(handler);
  httplib::Server& s = *server_;
  s.set_read_timeout(limits.read_timeout);
  s.set_write_timeout(limits.write_timeout);
  s.set_keep_alive_timeout(2);
  // cpp-httplib writes headers and body separately: without this, Nagle holds the body until the
  // client's delayed ACK, and every request on a kept-alive connection took 40 ms.
  s.set_tcp_nodelay(true);
  s.set_payload_max_length(limits.max_body);
  // cpp-httplib takes ownership of the queue it gets (its interface is a raw pointer).
  s.new_task_queue = [threads = limits.threads] {
    return new httplib::ThreadPool(threads);  // NOLINT(cppcoreguidelines-owning-memory)
  };
  auto route = [this](const httplib::Request& req, httplib::Response& res) {
    const HttpResponse out = handler_(HttpRequest{req.method, req.path, req.body});
    res.status = out.status;
    res.set_content(out.body, out.content_type.c_str());
  };
  // cpp-httplib 0.11 bounds neither a header line nor their number: the total is checked here,
  // before any handler runs.
  s.set_pre_routing_handler(
      [this, max = limits.max_header_bytes](const httplib::Request& req, httplib::Response& res) {
        auto refuse = [&res](int status, const std::string& why) {
          res.status = status;
          res.set_content(error_body(why), "application/json");
          return httplib::Server::HandlerResponse::Handled;
        };
        std::size_t total = 0;
        for (const auto& [name, value] : req.headers) total += name.size() + value.size() + 4;
        if (total > max) {
          return refuse(431, "request headers too large: " + std::to_string(total) +
                                 " bytes (limit " + std::to_string(max) + ")");
        }
        // A web page the operator visits must not reach this endpoint: a browser names the page's
        // origin (cross-site requests), and a DNS-rebound name shows in Host.
        const std::string host = req.get_header_value("Host");
        if (!host.empty() && !is_loopback_authority(host, port_)) {
          return refuse(403, "Host '" + host + "' is not this admin endpoint (loopback only)");
        }
        if (req.has_header("Origin")) {
          const std::string origin = req.get_header_value("Origin");
          const std::string prefix = "http://";
          if (origin.rfind(prefix, 0) != 0 ||
              !is_loopback_authority(origin.substr(prefix.size()), port_)) {
            return refuse(403, "requests from web pages are refused (Origin '" + origin + "')");
          }
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
  s.Get(".*", route);
  s.Post(".*", route);
  // A handler that throws (a bug, or input no check caught) answers 500 naming the cause; the
  // server keeps serving.
  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, const std::exception_ptr& ep) {
        std::string what;
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
          what = "an exception that is not a std::exception";
        }
        res.status = 500;
        res.set_content(error_body("internal error: " + what), "application/json");
      });
  // Statuses cpp-httplib sets itself (malformed request, too large, no route) get a JSON body.
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) res.set_content(error_body(refusal(res.status)), "application/json");
  });
  const std::string host = endpoint->address().to_string();
  const bool bound = endpoint->port() == 0
                         ? (port_ = static_cast<unsigned short>(s.bind_to_any_port(host))) > 0
                         : s.bind_to_port(host, endpoint->port());
  if (!bound) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot listen on " + address +
                          " (is another capsule host running? use --admin to pick another port)");
  }
  if (endpoint->port() != 0) port_ = endpoint->port();
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return ok();
}

void HttpServer::stop() {
  if (stopped_.exchange(true)) return;
  server_->stop();  // wakes the accept loop; connections in flight finish
  if (thread_.joinable()) thread_.join();
}

Result<HttpResponse> http_call(const std::string& address, const std::string& method,
                               const std::string& path, const std::string& body,
                               std::chrono::milliseconds timeout) {
  auto endpoint = loopback_endpoint(address);
  if (!endpoint) return std::move(endpoint).error();
  httplib::Client client(endpoint->address().to_string(), endpoint->port());
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  client.set_tcp_nodelay(true);
  auto result = method == "GET" ? client.Get(path) : client.Post(path, body, "application/json");
  if (!result) {
    const auto err = result.error();
    if (err == httplib::Error::Read || err == httplib::Error::Write) {
      return make_error(ErrorCode::kUnavailable, "no answer from the capsule host at " + address +
                                                     " within " + std::to_string(timeout.count()) +
                                                     " ms (" + httplib::to_string(err) + ")");
    }
    return make_error(ErrorCode::kUnavailable, "no capsule host at " + address + " (" +
                                                   httplib::to_string(err) +
                                                   "); is `capsule run` running?");
  }
  return HttpResponse{result->status, result->get_header_value("Content-Type"), result->body};
}

}  // namespace capsule::cli
