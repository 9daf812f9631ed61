#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <capsule/core/result.hpp>

namespace capsule::wasm {

// Precompiled components on disk, one file per (content hash, engine fingerprint). Loading a
// precompiled artifact skips Cranelift entirely. Files are trusted host state: the directory
// must not be writable by guests or other users (Wasmtime deserialization trusts its input).
class ComponentCache {
 public:
  ComponentCache(std::filesystem::path dir, std::string engine_fingerprint);

  [[nodiscard]] std::filesystem::path path_for(const std::string& content_hash) const;
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> read(
      const std::string& content_hash) const;
  // Writes crash-safely: a unique temp file, fsync, atomic rename, fsync of the directory. A crash
  // never leaves a torn artifact behind, and concurrent writers of one artifact never collide.
  [[nodiscard]] Status write(const std::string& content_hash,
                             std::span<const std::uint8_t> artifact) const;
  void remove(const std::string& content_hash) const;

 private:
  std::filesystem::path dir_;
  std::string fingerprint_;
};

}  // namespace capsule::wasm
