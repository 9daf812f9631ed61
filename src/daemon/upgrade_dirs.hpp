#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <capsule/core/result.hpp>

namespace capsule::daemon {

// The directories `capsule upgrade` may load component files from ([host].upgrade_dirs; by
// default the manifest's own directory). An admin client names a path on the host's disk, so
// without this any file the host can read would be loaded as code.
class UpgradeDirs {
 public:
  // Resolves each directory (realpath: symlinks and `..` gone); a missing one is an error.
  [[nodiscard]] static Result<UpgradeDirs> resolve(const std::vector<std::filesystem::path>& dirs);

  // The file's real path if it lies under one of the directories (after resolving symlinks and
  // `..`, so neither escapes); otherwise kPermissionDenied naming the path and the directories.
  [[nodiscard]] Result<std::filesystem::path> admit(const std::string& path) const;

  [[nodiscard]] std::string describe() const;  // "/a, /b"

 private:
  explicit UpgradeDirs(std::vector<std::filesystem::path> dirs) : dirs_(std::move(dirs)) {}
  std::vector<std::filesystem::path> dirs_;
};

}  // namespace capsule::daemon
