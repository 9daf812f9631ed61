#pragma once

#include <asio/ip/tcp.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <capsule/core/result.hpp>

namespace httplib {
class Server;
}

namespace capsule::cli {

struct HttpRequest {
  std::string method;
  std::string path;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// What the admin endpoint tolerates from a client.
struct HttpLimits {
  std::size_t max_body = 16 << 20;        // larger: 413
  std::chrono::seconds read_timeout{2};   // a stalled request (slowloris) is dropped
  std::chrono::seconds write_timeout{5};  // a client that stops reading is dropped
  // Connections served at once: each holds a thread while it is read (cpp-httplib is blocking),
  // so more stalled clients than this delay the others by up to read_timeout.
  std::size_t threads = 16;
  std::size_t max_header_bytes = 16 << 10;  // all header lines together; more: 431
};

// The admin endpoint's HTTP/1.1 server on cpp-httplib (Debian's libcpp-httplib 0.11.4; see
// docs/operations.md): loopback only, a small pool serving connections concurrently, read and
// write timeouts, a body limit, and every malformed request answered with a 4xx JSON error
// (never a crash: a handler that throws is a 500 naming the cause).
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "127.0.0.1:7070"; port 0 picks a free port (see port()).
  [[nodiscard]] Status start(const std::string& address, Handler handler, HttpLimits limits = {});
  void stop();
  [[nodiscard]] unsigned short port() const { return port_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  Handler handler_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  unsigned short port_ = 0;
};

// Parses "host:port"; only loopback addresses are accepted (the endpoint has no authentication).
[[nodiscard]] Result<asio::ip::tcp::endpoint> loopback_endpoint(const std::string& address);

// One request to a local HttpServer, bounded by `timeout` (connect, send and answer); the
// response or why there is none.
[[nodiscard]] Result<HttpResponse> http_call(const std::string& address, const std::string& method,
                                             const std::string& path, const std::string& body,
                                             std::chrono::milliseconds timeout);

}  // namespace capsule::cli
