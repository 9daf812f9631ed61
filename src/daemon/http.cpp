#include "http.hpp"

#include <algorithm>
#include <cctype>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "unix_http_server.hpp"

namespace capsule::daemon {
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

// What a handler or gate sees of a cpp-httplib request; the peer from the transport.
HttpRequest to_request(const httplib::Request& req, bool unix_socket) {
  HttpRequest out{req.method, req.path, req.body, {}, {}, 0};
  out.headers.assign(req.headers.begin(), req.headers.end());
  out.query.assign(req.params.begin(), req.params.end());
  out.peer.unix_socket = unix_socket;
  if (unix_socket) {
    if (const auto peer = UnixHttpServer::current_peer()) {
      out.peer.uid = peer->uid;
      out.peer.pid = peer->pid;
    }
  } else {
    out.peer.address = req.remote_addr + ":" + std::to_string(req.remote_port);
    out.local_port = static_cast<unsigned short>(req.local_port);
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return "";
}

bool HttpRequest::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return iequals(h.first, name); });
}

std::string HttpRequest::param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return "";
}

std::string HttpRequest::cookie(std::string_view name) const {
  // "a=1; capsule_session_7070=abc": split on ';', trim the blanks after it.
  const std::string all = header("Cookie");
  std::string_view rest = all;
  while (!rest.empty()) {
    const auto end = rest.find(';');
    std::string_view item = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    const auto eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name) {
      return std::string(item.substr(eq + 1));
    }
  }
  return "";
}

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

HttpServer::HttpServer() = default;

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::configure(HttpLimits limits) {
  httplib::Server& s = *server_;
  const bool unix_socket = !socket_path_.empty();
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
  auto route = [this, unix_socket](const httplib::Request& req, httplib::Response& res) {
    HttpResponse out = handler_(to_request(req, unix_socket));
    res.status = out.status;
    for (const auto& [name, value] : out.headers) res.set_header(name, value);
    if (!out.stream) {
      res.set_content(out.body, out.content_type.c_str());
      return;
    }
    // cpp-httplib calls the provider until it says done (or a write fails: the client left),
    // and stops calling it once the server is stopping.
    res.set_chunked_content_provider(
        out.content_type, [stream = std::move(out.stream)](std::size_t, httplib::DataSink& sink) {
          const ChunkWriter write = [&sink](std::string_view chunk) {
            return sink.write(chunk.data(), chunk.size());
          };
          // The exception handler covers handlers, not content providers: a throw here would end
          // the process, so it ends this response instead.
          try {
            if (!stream(write)) sink.done();
            return true;
          } catch (...) {
            return false;
          }
        });
  };
  // cpp-httplib 0.11 bounds neither a header line nor their number: the total is checked here,
  // before any handler runs; then the gate (who may ask at all) sees the headers.
  s.set_pre_routing_handler([this, unix_socket, max = limits.max_header_bytes](
                                const httplib::Request& req, httplib::Response& res) {
    auto refuse = [&res](const HttpResponse& answer) {
      res.status = answer.status;
      res.set_content(answer.body, answer.content_type.c_str());
      // The body of a refused request is never read: the connection cannot carry another one.
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    };
    std::size_t total = 0;
    for (const auto& [name, value] : req.headers) total += name.size() + value.size() + 4;
    if (total > max) {
      return refuse({431, "application/json",
                     error_body("request headers too large: " + std::to_string(total) +
                                " bytes (limit " + std::to_string(max) + ")")});
    }
    if (gate_) {
      if (auto refusal = gate_(to_request(req, unix_socket))) return refuse(*refusal);
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
}

Status HttpServer::start_tcp(const std::string& address, Handler handler, Gate gate,
                             HttpLimits limits) {
  auto endpoint = loopback_endpoint(address);
  if (!endpoint) return std::move(endpoint).error();
  handler_ = std::move(handler);
  gate_ = std::move(gate);
  server_ = std::make_unique<httplib::Server>();
  configure(limits);
  httplib::Server& s = *server_;
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
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    loop_ended_ = true;
  });
  return ok();
}

Status HttpServer::start_unix(const std::filesystem::path& path, Handler handler, Gate gate,
                              HttpLimits limits) {
  handler_ = std::move(handler);
  gate_ = std::move(gate);
  auto server = std::make_unique<UnixHttpServer>();
  if (Status s = server->bind_unix(path); !s) return s;
  socket_path_ = path;
  server_ = std::move(server);
  configure(limits);
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    loop_ended_ = true;
  });
  return ok();
}

void HttpServer::stop() {
  if (stopped_.exchange(true) || !server_) return;
  // cpp-httplib's stop() closes the listening socket only once its accept loop runs: wait for it
  // (a stop right after start would otherwise leave the loop running and join() hanging).
  if (thread_.joinable()) {
    while (!server_->is_running() && !loop_ended_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  server_->stop();  // wakes the accept loop; connections in flight finish
  if (thread_.joinable()) thread_.join();
  if (!socket_path_.empty()) {
    std::error_code ec;
    std::filesystem::remove(socket_path_, ec);  // the next host finds no stale socket
  }
}

Result<HttpResponse> http_call(const AdminEndpoint& endpoint, const std::string& method,
                               const std::string& path, const std::string& body,
                               std::chrono::milliseconds timeout) {
  std::unique_ptr<httplib::Client> client;
  if (endpoint.unix_socket) {
    // cpp-httplib 0.11 connects to AF_UNIX with the socket path as its host name.
    client = std::make_unique<httplib::Client>(endpoint.address, 80);
    client->set_address_family(AF_UNIX);
  } else {
    auto tcp = loopback_endpoint(endpoint.address);
    if (!tcp) return std::move(tcp).error();
    client = std::make_unique<httplib::Client>(tcp->address().to_string(), tcp->port());
    client->set_tcp_nodelay(true);
    if (!endpoint.token.empty()) client->set_bearer_token_auth(endpoint.token);
  }
  client->set_connection_timeout(timeout);
  client->set_read_timeout(timeout);
  client->set_write_timeout(timeout);
  auto result = method == "GET" ? client->Get(path) : client->Post(path, body, "application/json");
  const std::string& where = endpoint.address;
  if (!result) {
    const auto err = result.error();
    if (err == httplib::Error::Read || err == httplib::Error::Write) {
      return make_error(ErrorCode::kUnavailable, "no answer from the capsule host at " + where +
                                                     " within " + std::to_string(timeout.count()) +
                                                     " ms (" + httplib::to_string(err) + ")");
    }
    return make_error(ErrorCode::kUnavailable, "no capsule host at " + where + " (" +
                                                   httplib::to_string(err) +
                                                   "); is `capsule run` running?");
  }
  return HttpResponse{result->status, result->get_header_value("Content-Type"), result->body};
}

}  // namespace capsule::daemon
