// Writes keys into a SqliteKvBackend as fast as it can and reports each committed write on
// stdout ("<index>\n", unbuffered) until killed. The crash-safety test kill -9s it and checks
// that everything reported survived, intact. Value i is deterministic: see expected_value().
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include <capsule/storage/sqlite_kv_backend.hpp>

namespace {

capsule::storage::Bytes expected_value(unsigned long i) {
  // Sizes vary from 1 byte to ~8 KiB so writes span several pages: a torn write would show.
  capsule::storage::Bytes v(1 + (i * 7919) % 8192);
  for (std::size_t j = 0; j < v.size(); ++j) v[j] = static_cast<std::uint8_t>((i * 31 + j) & 0xff);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <db> <first-index>\n", argv[0]);
    return 2;
  }
  auto kv = capsule::storage::SqliteKvBackend::open(argv[1]);
  if (!kv) {
    std::fprintf(stderr, "%s\n", kv.error().describe().c_str());
    return 1;
  }
  const capsule::security::StorageQuota unlimited{.max_bytes = ~0ULL, .max_keys = ~0ULL};
  for (unsigned long i = std::strtoul(argv[2], nullptr, 10);; ++i) {
    const std::string key = "k" + std::to_string(i);
    if (capsule::Status s = (*kv)->set("crash/test", key, expected_value(i), unlimited); !s) {
      std::fprintf(stderr, "%s\n", s.error().describe().c_str());
      return 1;
    }
    // Overwrite an older key too, so the log holds updates, not just inserts.
    if (i > 0) {
      const unsigned long old = i / 2;
      if (!(*kv)->set("crash/test", "k" + std::to_string(old), expected_value(old), unlimited)) {
        return 1;
      }
    }
    const std::string line = std::to_string(i) + "\n";
    if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) return 1;
  }
}
