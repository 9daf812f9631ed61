#include "component_cache.hpp"

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

Status ComponentCache::write(const std::string& content_hash,
                             std::span<const std::uint8_t> artifact) const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot create cache dir " + dir_.string() + ": " + ec.message());
  }
  const auto final_path = path_for(content_hash);
  auto tmp = final_path;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(artifact.data()),
              static_cast<std::streamsize>(artifact.size()));
    if (!out.flush()) {
      std::filesystem::remove(tmp, ec);
      return make_error(ErrorCode::kUnavailable, "cannot write " + tmp.string());
    }
  }
  std::filesystem::rename(tmp, final_path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return make_error(ErrorCode::kUnavailable,
                      "cannot move cache file into place at " + final_path.string());
  }
  return ok();
}

void ComponentCache::remove(const std::string& content_hash) const {
  std::error_code ec;
  std::filesystem::remove(path_for(content_hash), ec);
}

}  // namespace capsule::wasm
