// kill -9 a real writer process mid-write, reopen, and check that every write it reported as
// committed is there and intact, and that the usage totals match the data (no torn transaction).
#include <csignal>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <capsule/storage/sqlite_kv_backend.hpp>

namespace capsule::storage {
namespace {

Bytes expected_value(unsigned long i) {  // same as crash_writer.cpp
  Bytes v(1 + (i * 7919) % 8192);
  for (std::size_t j = 0; j < v.size(); ++j) v[j] = static_cast<std::uint8_t>((i * 31 + j) & 0xff);
  return v;
}

// Starts the writer, reads its "<index>\n" reports until `after` more writes were committed,
// SIGKILLs it and returns the last index it reported.
long run_and_kill(const std::filesystem::path& db, unsigned long first, int after) {
  int out[2];
  if (::pipe(out) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    const std::string start = std::to_string(first);
    ::execl(CAPSULE_CRASH_WRITER, CAPSULE_CRASH_WRITER, db.c_str(), start.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  long last = -1;
  int seen = 0;
  std::string buffer;
  char chunk[256];
  while (seen < after) {
    const ssize_t n = ::read(out[0], chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl = 0;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      last = std::stol(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
      ++seen;
    }
  }
  ::kill(pid, SIGKILL);  // mid-write: the writer never pauses between transactions
  int status = 0;
  ::waitpid(pid, &status, 0);
  // Reports that reached the pipe before the kill are committed writes too.
  while (true) {
    const ssize_t n = ::read(out[0], chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl = 0;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      last = std::stol(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
    }
  }
  ::close(out[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "writer exited on its own";
  return last;
}

TEST(CrashSafety, KillNineDuringWritesLosesNoCommittedWrite) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("capsule_crash_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto db = dir / "kv.db";
  unsigned long next = 0;
  for (int round = 0; round < 3; ++round) {
    const long last = run_and_kill(db, next, 150 + 50 * round);
    ASSERT_GE(last, static_cast<long>(next)) << "writer reported nothing in round " << round;
    auto kv = SqliteKvBackend::open(db);
    ASSERT_TRUE(kv) << kv.error().describe();
    for (long i = 0; i <= last; ++i) {
      auto v = (*kv)->get("crash/test", "k" + std::to_string(i));
      ASSERT_TRUE(v) << v.error().describe();
      ASSERT_TRUE(v->has_value()) << "committed key k" << i << " lost in round " << round;
      ASSERT_EQ(**v, expected_value(static_cast<unsigned long>(i))) << "k" << i << " torn";
    }
    auto consistent = (*kv)->usage_consistent("crash/test");
    ASSERT_TRUE(consistent);
    EXPECT_TRUE(*consistent) << "usage totals disagree with the data after the crash";
    next = static_cast<unsigned long>(last) + 1;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace capsule::storage
