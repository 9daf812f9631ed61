#include "http.hpp"

#include <sstream>

namespace capsule::cli {
namespace {

constexpr std::size_t kMaxBody = 16 << 20;

std::string reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

// Reads one HTTP message (request or response) from `socket`: start line, headers, body.
Result<std::pair<std::string, std::string>> read_message(asio::ip::tcp::socket& socket) {
  asio::streambuf buf;
  asio::error_code ec;
  asio::read_until(socket, buf, "\r\n\r\n", ec);
  if (ec) return make_error(ErrorCode::kUnavailable, "reading headers: " + ec.message());
  std::istream in(&buf);
  std::string start;
  std::getline(in, start);
  if (!start.empty() && start.back() == '\r') start.pop_back();
  std::size_t length = 0;
  std::string line;
  while (std::getline(in, line) && line != "\r") {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (key == "content-length") length = std::stoul(line.substr(colon + 1));
  }
  if (length > kMaxBody) return make_error(ErrorCode::kInvalidArgument, "body too large");
  std::string body(std::istreambuf_iterator<char>(in), {});
  if (body.size() < length) {
    std::string rest(length - body.size(), '\0');
    asio::read(socket, asio::buffer(rest), ec);
    if (ec) return make_error(ErrorCode::kUnavailable, "reading body: " + ec.message());
    body += rest;
  }
  body.resize(length);
  return std::make_pair(std::move(start), std::move(body));
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
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return make_error(ErrorCode::kInvalidArgument,
                      "admin address '" + address + "' has a bad port");
  }
  return asio::ip::tcp::endpoint(ip, static_cast<unsigned short>(port));
}

HttpServer::~HttpServer() {
  stop();
}

Status HttpServer::start(const std::string& address, Handler handler) {
  auto endpoint = loopback_endpoint(address);
  if (!endpoint) return std::move(endpoint).error();
  handler_ = std::move(handler);
  asio::error_code ec;
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(io_);
  acceptor_->open(endpoint->protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(*endpoint, ec);
  if (!ec) acceptor_->listen(16, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot listen on " + address + ": " + ec.message() +
                          " (is another capsule host running? use --admin to pick another port)");
  }
  port_ = acceptor_->local_endpoint().port();
  thread_ = std::thread([this] { serve(); });
  return ok();
}

void HttpServer::stop() {
  if (stopping_.exchange(true) || !acceptor_) return;
  asio::error_code ec;
  // shutdown(2) on the listening socket wakes the blocked accept() on Linux.
  ::shutdown(acceptor_->native_handle(), SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  acceptor_->close(ec);
}

void HttpServer::serve() {
  while (!stopping_.load()) {
    asio::ip::tcp::socket socket(io_);
    asio::error_code ec;
    acceptor_->accept(socket, ec);
    if (ec) {
      if (stopping_.load()) return;
      continue;
    }
    HttpResponse response;
    auto message = read_message(socket);
    if (!message) {
      response = {400, "application/json", R"({"error":"malformed request"})"};
    } else {
      std::istringstream start(message->first);
      HttpRequest request;
      start >> request.method >> request.path;
      request.body = std::move(message->second);
      response = handler_(request);
    }
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                      reason(response.status) + "\r\nContent-Type: " + response.content_type +
                      "\r\nContent-Length: " + std::to_string(response.body.size()) +
                      "\r\nConnection: close\r\n\r\n" + response.body;
    asio::write(socket, asio::buffer(out), ec);
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  }
}

Result<HttpResponse> http_call(const std::string& address, const std::string& method,
                               const std::string& path, const std::string& body,
                               std::chrono::milliseconds timeout) {
  auto endpoint = loopback_endpoint(address);
  if (!endpoint) return std::move(endpoint).error();
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  asio::error_code ec;
  socket.connect(*endpoint, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable, "no capsule host at " + address + " (" +
                                                   ec.message() + "); is `capsule run` running?");
  }
  const timeval tv{static_cast<time_t>(timeout.count() / 1000),
                   static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string request =
      method + " " + path + " HTTP/1.1\r\nHost: " + address +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  asio::write(socket, asio::buffer(request), ec);
  if (ec) return make_error(ErrorCode::kUnavailable, "sending to " + address + ": " + ec.message());
  auto message = read_message(socket);
  if (!message) return std::move(message).error();
  HttpResponse response;
  std::istringstream start(message->first);
  std::string version;
  start >> version >> response.status;
  response.body = std::move(message->second);
  return response;
}

}  // namespace capsule::cli
