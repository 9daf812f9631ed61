#pragma once

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace capsule {

// Empty when `file` opens for reading now, else why not ("No such file or directory"), for
// errors that name the file and the setting it came from before anything else reads it.
[[nodiscard]] inline std::string why_unreadable(const std::filesystem::path& file) {
  errno = 0;
  const std::ifstream in(file, std::ios::binary);
  if (in) return {};
  return errno != 0 ? std::strerror(errno) : "cannot open";
}

}  // namespace capsule
