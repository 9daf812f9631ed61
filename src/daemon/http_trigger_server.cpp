#include "http_trigger_server.hpp"

#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>

#include "fd_stream.hpp"

namespace capsule::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// A request line may take 8 KiB (cpp-httplib's own limit) on top of the headers; one read buffer
// more, since a read hands over body bytes behind the head too.
constexpr std::uint64_t kHeadSlack = (8 << 10) + (4 << 10);
// Requests on one kept-alive connection before it is closed (the client reconnects).
constexpr std::size_t kMaxRequestsPerConnection = 10'000;

int ms_until(Clock::time_point t) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

// The trigger's stream over one TCP connection: reads fail once the request's deadline passed or
// its head grew past the cap.
class DeadlineStream final : public FdStream {
 public:
  DeadlineStream(int fd, int write_ms, std::uint64_t head_cap)
      : FdStream(fd, write_ms), head_cap_(head_cap) {}

  // A new request starts: its head and body must be in by `deadline`.
  void begin_request(Clock::time_point deadline) {
    deadline_ = deadline;
    in_head_ = true;
    head_bytes_ = 0;
    head_too_large_ = false;
    close_after_ = false;
  }
  void close_after_answer() { close_after_ = true; }
  [[nodiscard]] bool close_after() const { return close_after_; }
  void end_head() { in_head_ = false; }
  [[nodiscard]] bool head_too_large() const { return head_too_large_; }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address_of(::getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address_of(::getsockname, ip, port);
  }

 protected:
  [[nodiscard]] int read_wait_ms() const override { return ms_until(deadline_); }
  ssize_t admit(std::size_t n) override {
    if (!in_head_) return static_cast<ssize_t>(n);
    if (head_bytes_ >= head_cap_) {
      head_too_large_ = true;
      return -1;
    }
    n = std::min<std::size_t>(n, head_cap_ - head_bytes_);
    head_bytes_ += n;
    return static_cast<ssize_t>(n);
  }

 private:
  template <typename Get>
  void address_of(Get get, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ip.clear();
    port = -1;
    auto* sa = reinterpret_cast<sockaddr*>(&addr);  // NOLINT: the sockets API
    if (get(socket(), sa, &len) != 0) return;
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (addr.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);  // NOLINT: the sockets API
      ::inet_ntop(AF_INET, &in->sin_addr, text.data(), text.size());
      port = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);  // NOLINT: the sockets API
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text.data(), text.size());
      port = ntohs(in6->sin6_port);
    }
    ip = text.data();
  }

  std::uint64_t head_cap_;
  Clock::time_point deadline_ = Clock::now();
  bool in_head_ = true;
  std::uint64_t head_bytes_ = 0;
  bool head_too_large_ = false;
  bool close_after_ = false;
};

thread_local DeadlineStream* t_stream = nullptr;

// Sets this thread's stream for the connection it serves, and clears it after.
class StreamScope {
 public:
  explicit StreamScope(DeadlineStream& s) { t_stream = &s; }
  ~StreamScope() { t_stream = nullptr; }
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;
};

// Counts a connection in for as long as it is served.
class LiveCount {
 public:
  explicit LiveCount(std::atomic<std::size_t>& n) : n_(n), value_(n.fetch_add(1) + 1) {}
  ~LiveCount() { n_.fetch_sub(1); }
  LiveCount(const LiveCount&) = delete;
  LiveCount& operator=(const LiveCount&) = delete;
  [[nodiscard]] std::size_t value() const { return value_; }

 private:
  std::atomic<std::size_t>& n_;
  std::size_t value_;
};

// What a connection past max_connections gets, without its request being read.
const std::string& overloaded_answer() {
  static const std::string answer = [] {
    const std::string body =
        R"({"ok":false,"status":503,"component":"","error":"overloaded",)"
        R"("message":"too many connections (http.max_connections), try again later"})";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
           "Connection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return answer;
}

}  // namespace

TriggerHttpServer::TriggerHttpServer(TriggerConnectionLimits limits) : limits_(limits) {
  set_write_timeout(std::chrono::duration_cast<std::chrono::seconds>(limits.write_timeout));
  set_tcp_nodelay(true);  // headers and body go out in separate writes (see http.cpp)
  // Only what the Keep-Alive response header advertises: process_and_close_socket() enforces
  // both, the idle time in milliseconds.
  set_keep_alive_timeout(static_cast<time_t>((limits.keep_alive_timeout.count() + 999) / 1000));
  set_keep_alive_max_count(kMaxRequestsPerConnection);
  // Two threads past the limit: a refused connection is answered at once even when every
  // admitted one holds its thread.
  new_task_queue = [threads = limits.max_connections + 2] {
    return new httplib::ThreadPool(threads);  // NOLINT(cppcoreguidelines-owning-memory)
  };
}

void TriggerHttpServer::head_received() {
  if (t_stream != nullptr) t_stream->end_head();
}

void TriggerHttpServer::widen_backlog() {
  // listen() again on a listening socket only changes its backlog (capped by somaxconn).
  if (svr_sock_ != INVALID_SOCKET) static_cast<void>(::listen(svr_sock_, SOMAXCONN));
}

void TriggerHttpServer::close_after_answer() {
  if (t_stream != nullptr) t_stream->close_after_answer();
}

bool TriggerHttpServer::head_too_large() {
  return t_stream != nullptr && t_stream->head_too_large();
}

bool TriggerHttpServer::process_and_close_socket(socket_t sock) {
  const LiveCount live(live_);
  if (live.value() > limits_.max_connections) {
    refused_.fetch_add(1);
    const std::string& answer = overloaded_answer();
    static_cast<void>(::send(sock, answer.data(), answer.size(), MSG_NOSIGNAL));
    // Read what the client sent for a moment: closing with unread bytes resets the connection,
    // and the client might lose the answer.
    ::shutdown(sock, SHUT_WR);
    std::array<char, 4096> sink{};
    for (int i = 0; i < 8 && wait_for(sock, POLLIN, 20); ++i) {
      if (::recv(sock, sink.data(), sink.size(), 0) <= 0) break;
    }
    ::close(sock);
    return false;
  }
  DeadlineStream stream(sock, static_cast<int>(limits_.write_timeout.count()),
                        limits_.max_header_bytes + kHeadSlack);
  const StreamScope scope(stream);
  bool served = false;
  for (std::size_t n = 0; n < kMaxRequestsPerConnection && svr_sock_ != INVALID_SOCKET; ++n) {
    const bool first = n == 0;
    // Wait for the next request in short slices, so a stopping server closes idle connections
    // at once instead of waiting out their keep-alive time.
    const auto idle_until =
        Clock::now() + (first ? limits_.read_timeout : limits_.keep_alive_timeout);
    bool readable = stream.buffered();
    while (!readable && svr_sock_ != INVALID_SOCKET && Clock::now() < idle_until) {
      readable = wait_for(sock, POLLIN, std::min(100, ms_until(idle_until)));
    }
    if (!readable) break;
    stream.begin_request(Clock::now() + limits_.read_timeout);
    bool closed = false;
    // Once stopping, the answer says Connection: close.
    const bool last = n + 1 == kMaxRequestsPerConnection || svr_sock_ == INVALID_SOCKET;
    served = process_request(stream, last, closed, nullptr);
    if (!served || closed || stream.close_after()) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return served;
}

}  // namespace capsule::daemon
