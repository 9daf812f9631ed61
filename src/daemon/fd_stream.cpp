#include "fd_stream.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>

namespace capsule::daemon {

bool wait_for(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  int n = 0;
  do {
    n = ::poll(&p, 1, ms);
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

ssize_t FdStream::read(char* ptr, size_t size) {
  if (!buffered()) {
    if (!wait_for(fd_, POLLIN, read_wait_ms())) return -1;
    ssize_t n = 0;
    do {
      n = ::recv(fd_, buf_.data(), buf_.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return n;
    off_ = 0;
    size_ = static_cast<std::size_t>(n);
  }
  const ssize_t take = admit(std::min(size, size_ - off_));
  if (take < 0) return -1;
  std::memcpy(ptr, buf_.data() + off_, static_cast<std::size_t>(take));
  off_ += static_cast<std::size_t>(take);
  return take;
}

ssize_t FdStream::write(const char* ptr, size_t size) {
  if (!is_writable()) return -1;
  ssize_t n = 0;
  do {
    n = ::send(fd_, ptr, size, MSG_NOSIGNAL);  // a vanished client is an error, not SIGPIPE
  } while (n < 0 && errno == EINTR);
  return n;
}

}  // namespace capsule::daemon
