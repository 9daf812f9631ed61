#pragma once

#include <filesystem>
#include <httplib.h>
#include <optional>
#include <sys/types.h>

#include <capsule/core/result.hpp>

namespace capsule::daemon {

// Who is on the other end of a Unix-socket connection, as the kernel says (SO_PEERCRED, taken
// when the peer connected): nothing the client sends can change it.
struct PeerCredentials {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

// A cpp-httplib server on a Unix socket whose handlers can tell who connected.
//
// cpp-httplib 0.11.4 listens on AF_UNIX (set_address_family(AF_UNIX), the path as host), but it
// creates the socket with the process umask and gives handlers only the peer's pid (as
// Request::remote_port). So this class binds the socket itself (mode 0600 before listen(), so
// no other user can ever connect) and serves each connection through the library's protected
// process_request() with the peer's SO_PEERCRED at hand (current_peer()).
class UnixHttpServer final : public httplib::Server {
 public:
  // Binds and listens on `path` (mode 0600). A stale socket file left by a dead host is
  // replaced; one a live host still answers on is an error, as is any other kind of file.
  [[nodiscard]] Status bind_unix(const std::filesystem::path& path);

  // The peer of the connection this thread is serving; nullopt outside a connection.
  [[nodiscard]] static std::optional<PeerCredentials> current_peer();

 private:
  bool process_and_close_socket(socket_t sock) override;
};

}  // namespace capsule::daemon
