#pragma once

#include <asio.hpp>
#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include <capsule/core/result.hpp>

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

// A deliberately small HTTP/1.1 server for the local admin endpoint: loopback only, one
// connection at a time on its own thread, Content-Length bodies, Connection: close.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  ~HttpServer();
  // "127.0.0.1:7070"; port 0 picks a free port (see port()).
  [[nodiscard]] Status start(const std::string& address, Handler handler);
  void stop();
  [[nodiscard]] unsigned short port() const { return port_; }

 private:
  void serve();
  asio::io_context io_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  Handler handler_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  unsigned short port_ = 0;
};

// Parses "host:port"; only loopback addresses are accepted (the endpoint has no authentication).
[[nodiscard]] Result<asio::ip::tcp::endpoint> loopback_endpoint(const std::string& address);

// One request to a local HttpServer; the response or why there is none.
[[nodiscard]] Result<HttpResponse> http_call(const std::string& address, const std::string& method,
                                             const std::string& path, const std::string& body,
                                             std::chrono::milliseconds timeout);

}  // namespace capsule::cli
