#include "component_cache.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <system_error>
#include <unistd.h>

namespace capsule::wasm {

ComponentCache::ComponentCache(std::filesystem::path dir, std::string engine_fingerprint)
    : dir_(std::move(dir)), fingerprint_(std::move(engine_fingerprint)) {}

std::filesystem::path ComponentCache::path_for(const std::string& content_hash) const {
  return dir_ / (content_hash + "-" + fingerprint_ + ".cwasm");
}

std::optional<std::vector<std::uint8_t>> ComponentCache::read(
    const std::string& content_hash) const {
  std::ifstream in(path_for(content_hash), std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  const auto size = static_cast<std::size_t>(in.tellg());
  std::vector<std::uint8_t> bytes(size);
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
    return std::nullopt;
  }
  return bytes;
}

namespace {

// Closes a file descriptor on every path out of write().
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool write_all(int fd, std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

Status ComponentCache::write(const std::string& content_hash,
                             std::span<const std::uint8_t> artifact) const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot create cache dir " + dir_.string() + ": " + ec.message());
  }
  const auto final_path = path_for(content_hash);
  // A unique temp name (mkstemp), so two threads or processes writing the same artifact never
  // share a file; data and directory are synced so a crash leaves either no file or a whole one.
  std::string tmp = final_path.string() + ".tmp.XXXXXX";
  Fd file{::mkstemp(tmp.data())};
  if (file.fd < 0) {
    return make_error(ErrorCode::kUnavailable, "cannot create a temp file in " + dir_.string() +
                                                   ": " + std::strerror(errno));
  }
  if (!write_all(file.fd, artifact) || ::fsync(file.fd) != 0) {
    const std::string why = std::strerror(errno);
    std::filesystem::remove(tmp, ec);
    return make_error(ErrorCode::kUnavailable, "cannot write " + tmp + ": " + why);
  }
  std::filesystem::rename(tmp, final_path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return make_error(ErrorCode::kUnavailable,
                      "cannot move cache file into place at " + final_path.string());
  }
  const Fd dir{::open(dir_.c_str(), O_RDONLY | O_DIRECTORY)};
  if (dir.fd >= 0) static_cast<void>(::fsync(dir.fd));  // the rename itself is durable
  return ok();
}

void ComponentCache::remove(const std::string& content_hash) const {
  std::error_code ec;
  std::filesystem::remove(path_for(content_hash), ec);
}

}  // namespace capsule::wasm
