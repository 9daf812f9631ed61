#pragma once

#include <array>
#include <cstddef>
#include <httplib.h>
#include <poll.h>

namespace capsule::daemon {

// true: `events`, a hang-up or an error happened on `fd` within `ms` (the next read or write then
// says which). Retries after a signal.
bool wait_for(int fd, short events, int ms);

// httplib::Stream over one accepted, connected socket, for the servers that accept connections
// themselves (cpp-httplib's own SocketStream is not in its installed header). Reads are buffered
// (the request parser reads a byte at a time) and wait up to read_wait_ms(); writes wait up to
// the write timeout; a vanished peer is an error, not SIGPIPE. Each server adds its own read
// limits and peer address.
class FdStream : public httplib::Stream {
 public:
  FdStream(int fd, int write_ms) : fd_(fd), write_ms_(write_ms) {}

  [[nodiscard]] bool buffered() const { return off_ < size_; }
  [[nodiscard]] bool is_readable() const override {
    return buffered() || wait_for(fd_, POLLIN, read_wait_ms());
  }
  [[nodiscard]] bool is_writable() const override { return wait_for(fd_, POLLOUT, write_ms_); }
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  [[nodiscard]] socket_t socket() const override { return fd_; }

 protected:
  // How long a read may wait for the peer, in ms, from now.
  [[nodiscard]] virtual int read_wait_ms() const = 0;
  // How many of `n` buffered bytes the parser may take now; -1 refuses the read.
  virtual ssize_t admit(std::size_t n) { return static_cast<ssize_t>(n); }

 private:
  int fd_;
  int write_ms_;
  std::array<char, 4096> buf_{};
  std::size_t off_ = 0;
  std::size_t size_ = 0;
};

}  // namespace capsule::daemon
