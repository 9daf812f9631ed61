#include "upgrade_dirs.hpp"

#include <algorithm>

namespace capsule::daemon {
namespace {

// Whether `file` is `dir` itself or inside it, compared element by element (so /srv/app2 is
// not under /srv/app). Both are already canonical.
bool is_under(const std::filesystem::path& file, const std::filesystem::path& dir) {
  auto f = file.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++f) {
    if (d->empty()) continue;  // a trailing separator
    if (f == file.end() || *f != *d) return false;
  }
  return true;
}

}  // namespace

Result<UpgradeDirs> UpgradeDirs::resolve(const std::vector<std::filesystem::path>& dirs) {
  std::vector<std::filesystem::path> real;
  real.reserve(dirs.size());
  for (const auto& dir : dirs) {
    std::error_code ec;
    auto canonical = std::filesystem::canonical(dir, ec);
    if (ec || !std::filesystem::is_directory(canonical)) {
      return make_error(ErrorCode::kInvalidArgument, "host.upgrade_dirs: " + dir.string() +
                                                         " is not a directory" +
                                                         (ec ? " (" + ec.message() + ")" : ""));
    }
    real.push_back(std::move(canonical));
  }
  return UpgradeDirs(std::move(real));
}

Result<std::filesystem::path> UpgradeDirs::admit(const std::string& path) const {
  std::error_code ec;
  // realpath(3): every symlink and `..` resolved, so the check below is on where the bytes are.
  const auto real = std::filesystem::canonical(path, ec);
  if (ec) {
    return make_error(ErrorCode::kNotFound, "upgrade file " + path + ": " + ec.message());
  }
  const bool allowed = std::any_of(dirs_.begin(), dirs_.end(), [&](const std::filesystem::path& d) {
    return is_under(real, d);
  });
  if (!allowed) {
    const std::string resolved =
        real.string() == path ? "" : " (resolves to " + real.string() + ")";
    return make_error(ErrorCode::kPermissionDenied,
                      "upgrade file " + path + resolved +
                          " is outside the directories this host loads upgrades from: " +
                          describe() + " (set [host].upgrade_dirs)");
  }
  return real;
}

std::string UpgradeDirs::describe() const {
  std::string out;
  for (const auto& d : dirs_) out += (out.empty() ? "" : ", ") + d.string();
  return out.empty() ? "(none)" : out;
}

}  // namespace capsule::daemon
