#include "unix_http_server.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fd_stream.hpp"

namespace capsule::daemon {
namespace {

thread_local std::optional<PeerCredentials> t_peer;

// The fd until it is handed over: closed on every early return.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

int to_ms(time_t sec, time_t usec) {
  return static_cast<int>(sec * 1000 + usec / 1000);
}

// The admin stream over one accepted Unix-socket connection: reads wait up to the read timeout.
class PeerStream final : public FdStream {
 public:
  PeerStream(int fd, int read_ms, int write_ms, pid_t pid)
      : FdStream(fd, write_ms), read_ms_(read_ms), pid_(pid) {}

  // As cpp-httplib does for a Unix peer: no address, the pid as the "port".
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip.clear();
    port = static_cast<int>(pid_);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip.clear();
    port = -1;
  }

 protected:
  [[nodiscard]] int read_wait_ms() const override { return read_ms_; }

 private:
  int read_ms_;
  pid_t pid_;
};

// Sets this thread's peer for the connection it serves, and clears it after.
class PeerScope {
 public:
  explicit PeerScope(PeerCredentials peer) { t_peer = peer; }
  ~PeerScope() { t_peer.reset(); }
  PeerScope(const PeerScope&) = delete;
  PeerScope& operator=(const PeerScope&) = delete;
};

}  // namespace

std::optional<PeerCredentials> UnixHttpServer::current_peer() {
  return t_peer;
}

Status UnixHttpServer::bind_unix(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& name = path.native();
  if (name.size() >= sizeof addr.sun_path) {
    return make_error(ErrorCode::kInvalidArgument,
                      "admin socket path " + name + " is " + std::to_string(name.size()) +
                          " bytes; a Unix socket path must be under " +
                          std::to_string(sizeof addr.sun_path) +
                          " (use a shorter [host].data_dir or --data-dir)");
  }
  std::memcpy(addr.sun_path, name.c_str(), name.size() + 1);
  const auto* sa = reinterpret_cast<const sockaddr*>(&addr);  // NOLINT: the sockets API
  struct stat st{};
  if (::lstat(name.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return make_error(ErrorCode::kAlreadyExists,
                        "admin socket path " + name + " exists and is not a socket");
    }
    // A socket file outlives its host (SIGKILL): replace it, unless a host still answers on it.
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe.get() >= 0 && ::connect(probe.get(), sa, sizeof addr) == 0) {
      return make_error(ErrorCode::kUnavailable,
                        "another capsule host is serving " + name +
                            " (two hosts cannot share a data dir; use --data-dir)");
    }
    ::unlink(name.c_str());
  }
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0 || ::bind(fd.get(), sa, sizeof addr) != 0) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot create admin socket " + name + ": " + std::strerror(errno));
  }
  // Before listen(): until then a connect() is refused, so no one ever connects under a looser
  // mode than 0600 (the umask is left alone: it is process-wide and other threads run).
  if (::chmod(name.c_str(), S_IRUSR | S_IWUSR) != 0 || ::listen(fd.get(), SOMAXCONN) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(name.c_str());
    return make_error(ErrorCode::kUnavailable,
                      "cannot listen on admin socket " + name + ": " + why);
  }
  svr_sock_ = fd.release();
  return ok();
}

// cpp-httplib's own loop (keep-alive up to keep_alive_max_count_ requests, each read with the
// read timeout), with the peer's credentials taken once, as the connection is served.
bool UnixHttpServer::process_and_close_socket(socket_t sock) {
  Fd fd(sock);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    ::shutdown(sock, SHUT_RDWR);
    return false;  // an unknown caller is not served
  }
  const PeerScope scope(PeerCredentials{cred.uid, cred.gid, cred.pid});
  PeerStream stream(sock, to_ms(read_timeout_sec_, read_timeout_usec_),
                    to_ms(write_timeout_sec_, write_timeout_usec_), cred.pid);
  bool served = false;
  for (std::size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
    // Wait for the next request in short slices, so a stopping server does not wait out the
    // keep-alive timeout of an idle client.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
    bool readable = stream.buffered();
    while (!readable && svr_sock_ != INVALID_SOCKET &&
           std::chrono::steady_clock::now() < deadline) {
      readable = wait_for(sock, POLLIN, 100);
    }
    if (!readable) break;
    bool closed = false;
    served = process_request(stream, left == 1, closed, nullptr);
    if (!served || closed) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  return served;
}

}  // namespace capsule::daemon
