#pragma once

#include <asio/ip/tcp.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <capsule/core/result.hpp>

namespace httplib {
class Server;
}

namespace capsule::daemon {

// Who sent a request, as the transport knows it (never from what the client says).
struct HttpPeer {
  bool unix_socket = false;
  // Unix socket: the peer process's credentials (SO_PEERCRED).
  unsigned uid = 0;
  int pid = 0;
  // TCP: "127.0.0.1:53422".
  std::string address;
};

struct HttpRequest {
  std::string method;
  std::string path;
  std::string body;  // empty in a Gate: the body is read only once a request is admitted
  std::vector<std::pair<std::string, std::string>> headers;
  HttpPeer peer;
  unsigned short local_port = 0;                             // TCP: the port it arrived on
  std::vector<std::pair<std::string, std::string>> query{};  // the URL's ?key=value pairs
  // The first header of that name (case-insensitive), or "".
  [[nodiscard]] std::string header(std::string_view name) const;
  [[nodiscard]] bool has_header(std::string_view name) const;
  // The first query parameter of that name, or "".
  [[nodiscard]] std::string param(std::string_view name) const;
  // The value of cookie `name` in the Cookie header, or "".
  [[nodiscard]] std::string cookie(std::string_view name) const;
};

// Writes one chunk of a streamed response; false once the client is gone (or too slow: the
// write timeout).
using ChunkWriter = std::function<bool(std::string_view)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // More response headers (Set-Cookie, Location, Cache-Control).
  std::vector<std::pair<std::string, std::string>> headers{};
  // Set: the body is streamed instead of `body` (Server-Sent Events, chunked): called again and
  // again on the connection's thread, it writes what it has and returns false to end the
  // response. It must not block for long: the server stops only between two calls.
  std::function<bool(const ChunkWriter& write)> stream{};
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
// docs/cli.md): one listener (a Unix socket, or a loopback TCP address), a small pool serving
// connections concurrently, read and write timeouts, a body limit, and every malformed request
// answered with a 4xx JSON error (never a crash: a handler that throws is a 500 naming the cause).
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // Runs on every request's headers before its body is read or any handler runs; an answer
  // refuses the request with it.
  using Gate = std::function<std::optional<HttpResponse>(const HttpRequest&)>;
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "127.0.0.1:7070"; port 0 picks a free port (see port()).
  [[nodiscard]] Status start_tcp(const std::string& address, Handler handler, Gate gate,
                                 HttpLimits limits = {});
  // A Unix socket at `path`, mode 0600; removed again by stop().
  [[nodiscard]] Status start_unix(const std::filesystem::path& path, Handler handler, Gate gate,
                                  HttpLimits limits = {});
  void stop();
  [[nodiscard]] unsigned short port() const { return port_; }

 private:
  void configure(HttpLimits limits);
  std::unique_ptr<httplib::Server> server_;
  Handler handler_;
  Gate gate_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> loop_ended_{false};
  unsigned short port_ = 0;
  std::filesystem::path socket_path_;  // set for a Unix socket listener
};

// Parses "host:port"; only loopback addresses are accepted (a TCP admin listener is for tools on
// this machine, and even they need its token).
[[nodiscard]] Result<asio::ip::tcp::endpoint> loopback_endpoint(const std::string& address);

// Where a client reaches an admin endpoint: a Unix socket path, or a loopback "host:port" with the
// bearer token that listener wants.
struct AdminEndpoint {
  bool unix_socket = true;
  std::string address;  // the socket path, or "127.0.0.1:7070"
  std::string token;    // TCP only; empty: none sent
};

// One request to a local HttpServer, bounded by `timeout` (connect, send and answer); the
// response or why there is none.
[[nodiscard]] Result<HttpResponse> http_call(const AdminEndpoint& endpoint,
                                             const std::string& method, const std::string& path,
                                             const std::string& body,
                                             std::chrono::milliseconds timeout);

}  // namespace capsule::daemon
