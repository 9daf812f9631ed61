#include "http_trigger.hpp"

#include <algorithm>
#include <asio/ip/address.hpp>
#include <cctype>
#include <condition_variable>
#include <httplib.h>
#include <mutex>
#include <optional>

#include "component_route.hpp"
#include "http_trigger_server.hpp"
#include "proxy_route.hpp"

namespace capsule::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// Where a handler's answer is handed to the connection thread that waits for it. Shared with
// the handler's callback, which may come after the thread gave up (a late outcome is dropped).
class AnswerSlot {
 public:
  void put(HttpTriggerResponse response) {
    {
      const std::lock_guard lock(mutex_);
      if (answer_) return;
      answer_ = std::move(response);
    }
    ready_.notify_one();
  }
  // The answer, or nullopt at `deadline`.
  std::optional<HttpTriggerResponse> take(Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    ready_.wait_until(lock, deadline, [this] { return answer_.has_value(); });
    return std::move(answer_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::optional<HttpTriggerResponse> answer_;
};

bool server_header(std::string_view name) {
  auto is = [&](std::string_view want) {
    return name.size() == want.size() &&
           std::equal(name.begin(), name.end(), want.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  return is("content-length") || is("connection") || is("keep-alive") || is("transfer-encoding") ||
         is("content-type");
}

void set(httplib::Response& res, const HttpTriggerResponse& answer) {
  res.status = answer.status;
  for (const auto& [name, value] : answer.headers) {
    if (!server_header(name)) res.set_header(name, value);
  }
  res.set_content(answer.body, answer.content_type.c_str());
}

// The handler of a static route or of one to a capsule:core component (wasi:http/proxy routes:
// HttpTrigger::make_proxy_route).
std::shared_ptr<RouteHandler> handler_for(const manifest::HttpRouteEntry& entry,
                                          component::ComponentRuntime& runtime,
                                          const std::map<std::string, std::uint32_t>& instances) {
  if (entry.static_body) return std::make_shared<StaticRouteHandler>(*entry.static_body);
  const auto it = instances.find(entry.component);
  return std::make_shared<ComponentRouteHandler>(runtime, entry.component,
                                                 it != instances.end() ? it->second : 1,
                                                 entry.envelope, entry.request_timeout, entry.path);
}

// A refusal before the body is read: the connection cannot carry another request.
void refuse(httplib::Response& res, const HttpTriggerResponse& answer) {
  set(res, answer);
  res.set_header("Connection", "close");
  TriggerHttpServer::close_after_answer();
}

// "" for a valid Content-Length (or none), else why it is not.
std::string bad_content_length(const httplib::Request& req) {
  const auto n = req.get_header_value_count("Content-Length");
  if (n == 0) return "";
  if (n > 1) return "more than one Content-Length header";
  const std::string v = req.get_header_value("Content-Length");
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos) {
    return "Content-Length '" + v.substr(0, 32) + "' is not a byte count";
  }
  if (req.has_header("Transfer-Encoding")) return "both Content-Length and Transfer-Encoding";
  return "";
}

// "host:port" -> host (brackets of "[::1]" removed) and port; an address, not a name.
Result<std::pair<std::string, int>> split_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  asio::error_code ec;
  static_cast<void>(asio::ip::make_address(host, ec));
  const std::string digits = listen.substr(colon + 1);
  int port = -1;
  if (!digits.empty() && digits.size() <= 5 &&
      digits.find_first_not_of("0123456789") == std::string::npos) {
    port = std::stoi(digits);
  }
  if (ec || port < 0 || port > 65535) {
    return make_error(ErrorCode::kInvalidArgument, "http.listen '" + listen +
                                                       "': expected an IP address and port, e.g. "
                                                       "\"127.0.0.1:8080\" or \"[::1]:8080\"");
  }
  return std::make_pair(host, port);
}

}  // namespace

HttpTrigger::HttpTrigger(manifest::HttpSection section, Reporter& reporter)
    : section_(std::move(section)), reporter_(reporter) {}

HttpTrigger::~HttpTrigger() {
  stop();
}

Status HttpTrigger::start(component::ComponentRuntime& runtime,
                          const std::map<std::string, std::uint32_t>& instances) {
  auto where = split_listen(section_.listen);
  if (!where) return std::move(where).error();
  for (const auto& entry : section_.routes) {
    std::shared_ptr<RouteHandler> handler;
    if (!entry.wasm.empty()) {
      auto made = make_proxy_route(entry, runtime);
      if (!made) return std::move(made).error();
      proxies_.emplace(entry.path, *made);
      handler = std::move(*made);
    } else {
      handler = handler_for(entry, runtime, instances);
    }
    auto counters = std::make_unique<HttpRouteCounters>(entry.path, handler->target());
    table_.add({entry.path, entry.max_body_bytes, handler});
    routes_.emplace(entry.path,
                    Route{{entry.path, entry.max_body_bytes, handler}, std::move(counters)});
  }
  server_ = std::make_unique<TriggerHttpServer>(TriggerConnectionLimits{
      section_.max_connections, section_.max_header_bytes, section_.read_timeout,
      section_.keep_alive_timeout, std::chrono::milliseconds(5000)});
  configure();
  const auto& [host, port] = *where;
  const bool bound =
      port == 0 ? (port_ = static_cast<unsigned short>(server_->bind_to_any_port(host))) > 0
                : server_->bind_to_port(host, port);
  if (!bound) {
    return make_error(ErrorCode::kUnavailable, "http.listen: cannot listen on " + section_.listen +
                                                   " (in use, or not an address of this machine)");
  }
  if (port != 0) port_ = static_cast<unsigned short>(port);
  server_->widen_backlog();
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    loop_ended_ = true;
  });
  return ok();
}

const HttpTrigger::Route* HttpTrigger::match(const std::string& path) const {
  const HttpRoute* r = table_.match(path);
  if (r == nullptr) return nullptr;
  const auto it = routes_.find(r->prefix);
  return it != routes_.end() ? &it->second : nullptr;
}

void HttpTrigger::configure() {
  TriggerHttpServer& s = *server_;
  std::uint64_t max_body = 0;
  for (const auto& e : section_.routes) max_body = std::max(max_body, e.max_body_bytes);
  // The largest route limit bounds every body, chunked ones included; each route's own limit
  // is checked from Content-Length before the body is read, and again after (chunked).
  s.set_payload_max_length(std::max<std::uint64_t>(max_body, 1));
  // Both run once the head is in, before any body is read: the pre-routing handler, and for a
  // request with "Expect: 100-continue" the expect handler first (cpp-httplib would otherwise
  // send "100 Continue" before any check, and the client its whole body).
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return refused(req, res) ? httplib::Server::HandlerResponse::Handled
                             : httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
    return refused(req, res) ? res.status : 100;
  });
  auto serve = [this](const httplib::Request& req, httplib::Response& res) {
    this->serve(req, res);
  };
  s.Get(".*", serve);
  s.Post(".*", serve);
  s.Put(".*", serve);
  s.Patch(".*", serve);
  s.Delete(".*", serve);
  s.Options(".*", serve);
  s.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res, const std::exception_ptr& ep) {
        std::string what;
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
          what = "an exception that is not a std::exception";
        }
        unrouted_.count(500);
        set(res, http_error(500, "", "internal", "internal error: " + what));
      });
  // Statuses cpp-httplib sets itself (a malformed or cut-off request, a chunked body past the
  // limit) get a JSON body too, and are counted; those of handlers already have one.
  s.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        HttpTriggerResponse answer;
        if (res.status == 400 && TriggerHttpServer::head_too_large()) {
          answer = http_error(431, "", "header-too-large",
                              "request head larger than http.max_header_bytes (" +
                                  std::to_string(section_.max_header_bytes) + ")");
        } else if (res.status == 413) {
          answer = http_error(413, "", "body-too-large", "request body too large");
        } else if (res.status == 414) {
          answer = http_error(414, "", "uri-too-long", "request line too long");
        } else {
          answer = http_error(res.status, "", "bad-request",
                              "malformed HTTP request (request line, headers or body framing)");
        }
        unrouted_.count(answer.status);
        refuse(res, answer);
        return httplib::Server::HandlerResponse::Handled;
      }));
}

bool HttpTrigger::refused(const httplib::Request& req, httplib::Response& res) {
  TriggerHttpServer::head_received();
  const Route* route = match(req.path);
  HttpRouteCounters& counters = route != nullptr ? *route->counters : unrouted_;
  const std::string who = route != nullptr ? route->route.handler->target() : "";
  auto refuse_with = [&](const HttpTriggerResponse& answer) {
    counters.count(answer.status);
    refuse(res, answer);
    return true;
  };
  std::size_t head = 0;
  for (const auto& [name, value] : req.headers) head += name.size() + value.size() + 4;
  if (head > section_.max_header_bytes) {
    return refuse_with(http_error(431, who, "header-too-large",
                                  "request headers are " + std::to_string(head) + " bytes (limit " +
                                      std::to_string(section_.max_header_bytes) + ")"));
  }
  if (const std::string why = bad_content_length(req); !why.empty()) {
    return refuse_with(http_error(400, who, "bad-request", why));
  }
  if (route == nullptr) {
    return refuse_with(http_error(404, "", "no-route", "no route for " + req.path));
  }
  if (req.has_header("Content-Length")) {
    const auto length = std::stoull(req.get_header_value("Content-Length"));
    if (length > route->route.max_body_bytes) {
      return refuse_with(http_error(413, who, "body-too-large",
                                    "request body is " + std::to_string(length) + " bytes (limit " +
                                        std::to_string(route->route.max_body_bytes) + ")"));
    }
  }
  return false;
}

void HttpTrigger::serve(const httplib::Request& req, httplib::Response& res) {
  const Route* route = match(req.path);
  if (route == nullptr) {  // the pre-routing handler answered these; kept for safety
    unrouted_.count(404);
    set(res, http_error(404, "", "no-route", "no route for " + req.path));
    return;
  }
  RouteHandler& handler = *route->route.handler;
  if (req.body.size() > route->route.max_body_bytes) {  // a chunked body
    route->counters->count(413);
    set(res, http_error(413, handler.target(), "body-too-large",
                        "request body is " + std::to_string(req.body.size()) + " bytes (limit " +
                            std::to_string(route->route.max_body_bytes) + ")"));
    return;
  }
  HttpTriggerRequest request;
  request.method = req.method;
  request.path = req.path;
  const auto q = req.target.find('?');
  if (q != std::string::npos) request.query = req.target.substr(q + 1);
  request.headers.assign(req.headers.begin(), req.headers.end());
  request.content_type = req.get_header_value("Content-Type");
  request.body = req.body;
  const auto t0 = Clock::now();
  auto slot = std::make_shared<AnswerSlot>();
  handler.handle(std::move(request), [slot](HttpTriggerResponse r) { slot->put(std::move(r)); });
  // The handler answers within its timeout (a component's request times out in the runtime);
  // the margin only guards against a handler that never calls back.
  auto answer = slot->take(t0 + handler.timeout() + std::chrono::seconds(2));
  if (!answer) {
    answer = http_error(504, handler.target(), "timeout",
                        "no answer within " + std::to_string(handler.timeout().count()) + " ms");
  }
  route->counters->observe(answer->status,
                           std::chrono::duration<double>(Clock::now() - t0).count());
  set(res, *answer);
}

void HttpTrigger::stop() {
  if (stopped_.exchange(true) || !server_) return;
  if (thread_.joinable()) {
    while (!server_->is_running() && !loop_ended_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  const auto in_flight = server_->connections();
  server_->stop();  // the accept loop ends; its thread pool drains the connections it holds
  if (thread_.joinable()) thread_.join();
  reporter_.info("http trigger stopped", {{"connections_drained", std::to_string(in_flight)}});
}

HttpTriggerSnapshot HttpTrigger::stats() const {
  HttpTriggerSnapshot s;
  for (const auto& [prefix, route] : routes_) {
    s.routes.push_back(route.counters->snapshot());
    s.routes.back().pool = route.route.handler->pool();
  }
  s.routes.push_back(unrouted_.snapshot());
  if (server_) {
    s.connections = server_->connections();
    s.refused_connections = server_->refused();
  }
  return s;
}

}  // namespace capsule::daemon
