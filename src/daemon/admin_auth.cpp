#include "admin_auth.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace capsule::daemon {
namespace {

constexpr std::size_t kTokenBytes = 32;

// The fd of a token file, closed on every path.
class File {
 public:
  explicit File(int fd) : fd_(fd) {}
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

Error file_error(const std::filesystem::path& file, const std::string& what) {
  return make_error(ErrorCode::kUnavailable,
                    "admin token " + file.string() + ": " + what + ": " + std::strerror(errno));
}

bool is_token_text(std::string_view text) {
  return text.size() == kTokenBytes * 2 &&
         text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// "127.0.0.1:7070", "localhost:7070", "[::1]:7070" (the port optional, and then any).
bool is_loopback_authority(const std::string& authority, unsigned short port) {
  std::string name = authority;
  if (const auto colon = authority.rfind(':');
      colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    if (authority.substr(colon + 1) != std::to_string(port)) return false;
    name = authority.substr(0, colon);
  }
  return name == "127.0.0.1" || name == "localhost" || name == "[::1]";
}

}  // namespace

HttpResponse auth_refusal(int status, const std::string& code, const std::string& message) {
  return {status, "application/json",
          nlohmann::json{{"ok", false}, {"error", {{"code", code}, {"message", message}}}}.dump(
              -1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

Result<std::string> random_token() {
  std::array<unsigned char, kTokenBytes> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return make_error(
          ErrorCode::kUnavailable,
          std::string("no random bytes for the admin token: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (const unsigned char b : bytes) {
    text += kHex[b >> 4U];
    text += kHex[b & 0xfU];
  }
  return text;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;  // the length of a token is no secret
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  // Through a volatile, so the compiler cannot turn the loop into an early exit.
  const volatile unsigned char result = diff;
  return result == 0;
}

Result<AdminToken> AdminToken::load(const std::filesystem::path& file) {
  const File fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) return file_error(file, "cannot open");
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return file_error(file, "cannot stat");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777U));
    return make_error(ErrorCode::kPermissionDenied,
                      "admin token " + file.string() + " has mode " + mode +
                          ": others may read it; chmod 600 it (or delete it for a new token)");
  }
  std::array<char, kTokenBytes * 2 + 2> buf{};
  const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
  if (n < 0) return file_error(file, "cannot read");
  std::string text(buf.data(), static_cast<std::size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (!is_token_text(text)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "admin token " + file.string() +
                          " is not 64 hex digits (delete it and restart the host for a new one)");
  }
  return AdminToken(std::move(text), false);
}

Result<AdminToken> AdminToken::load_or_create(const std::filesystem::path& file) {
  auto text = random_token();
  if (!text) return std::move(text).error();
  // O_EXCL: an existing file (or a symlink planted in its place) is never written through.
  const File fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) return load(file);
    return file_error(file, "cannot create");
  }
  // 0600 whatever the umask said (a umask can only remove bits, but be explicit).
  const std::string line = *text + "\n";
  if (::fchmod(fd.get(), S_IRUSR | S_IWUSR) != 0 ||
      ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
      ::fsync(fd.get()) != 0) {
    const Error e = file_error(file, "cannot write");
    std::filesystem::remove(file);
    return e;
  }
  return AdminToken(std::move(*text), true);
}

bool AdminToken::matches(std::string_view presented) const {
  return constant_time_equal(presented, text_);
}

std::optional<HttpResponse> check_tcp_request(const HttpRequest& request, const AdminToken& token) {
  if (auto refusal = check_host_origin(request)) return refusal;
  return check_bearer(request, token);
}

std::optional<HttpResponse> check_host_origin(const HttpRequest& request) {
  const std::string host = request.header("Host");
  if (!host.empty() && !is_loopback_authority(host, request.local_port)) {
    return auth_refusal(403, "forbidden",
                        "Host '" + host + "' is not this admin endpoint (loopback only)");
  }
  if (request.has_header("Origin")) {
    const std::string origin = request.header("Origin");
    const std::string prefix = "http://";
    if (origin.rfind(prefix, 0) != 0 ||
        !is_loopback_authority(origin.substr(prefix.size()), request.local_port)) {
      return auth_refusal(403, "forbidden",
                          "requests from web pages are refused (Origin '" + origin + "')");
    }
  }
  return std::nullopt;
}

std::optional<HttpResponse> check_bearer(const HttpRequest& request, const AdminToken& token) {
  const std::string auth = request.header("Authorization");
  static constexpr std::string_view kBearer = "Bearer ";
  if (auth.empty()) {
    return auth_refusal(401, "unauthorized",
                        "this admin endpoint wants its token: Authorization: Bearer <token> (the "
                        "host's <data_dir>/admin.token; the CLI reads it with --data-dir, "
                        "--token-file or $CAPSULE_ADMIN_TOKEN)");
  }
  if (auth.size() <= kBearer.size() || auth.compare(0, kBearer.size(), kBearer) != 0 ||
      !token.matches(std::string_view(auth).substr(kBearer.size()))) {
    return auth_refusal(401, "unauthorized", "wrong admin token");
  }
  return std::nullopt;
}

std::string caller_of(const HttpRequest& request, bool authenticated) {
  if (request.peer.unix_socket) {
    return "unix:uid=" + std::to_string(request.peer.uid) +
           ",pid=" + std::to_string(request.peer.pid);
  }
  if (!authenticated) return "tcp:" + request.peer.address;
  // Admitted without a token: by a dashboard session (AdminEndpoints::admit_tcp).
  const bool session = !request.has_header("Authorization") &&
                       request.header("Cookie").find("capsule_session_") != std::string::npos;
  return (session ? "session@" : "token@") + request.peer.address;
}

}  // namespace capsule::daemon
