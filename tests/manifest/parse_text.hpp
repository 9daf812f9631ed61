#pragma once
// Parses manifest text as if it were <dir>/app.toml, for the manifest unit tests. The components'
// files must exist (only `capsule run` reads them): empty a.wasm and b.wasm in a directory of the
// test's own, removed after.
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "manifest/manifest.hpp"

namespace capsule::manifest::testing {

inline Result<Manifest> parse_text(const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("capsule-manifest-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "a.wasm") << "";
  std::ofstream(dir / "b.wasm") << "";
  auto m = parse_manifest(text, dir / "app.toml");
  std::filesystem::remove_all(dir);
  return m;
}

// The error's message, or "parsed" when the text was accepted.
inline std::string error_of(const std::string& text) {
  auto m = parse_text(text);
  return m ? std::string("parsed") : m.error().message;
}

}  // namespace capsule::manifest::testing
