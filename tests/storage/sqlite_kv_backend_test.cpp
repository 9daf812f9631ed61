#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <thread>
#include <unistd.h>

#include <capsule/storage/sqlite_kv_backend.hpp>

#include "kv_backend_contract.hpp"

namespace capsule::storage {
namespace {

// One SQLite file in a fresh directory; every open() is another connection to it, as another
// process would have.
class SqliteEnv {
 public:
  SqliteEnv()
      : dir_(std::filesystem::temp_directory_path() /
             ("capsule_kv_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~SqliteEnv() { std::filesystem::remove_all(dir_); }
  SqliteEnv(const SqliteEnv&) = delete;
  SqliteEnv& operator=(const SqliteEnv&) = delete;

  std::unique_ptr<KvBackend> open() {
    auto opened = SqliteKvBackend::open(dir_ / "kv.db");
    EXPECT_TRUE(opened) << opened.error().describe();
    return opened ? std::move(*opened) : nullptr;
  }
  static void usage_is_exact(KvBackend& kv, std::string_view space) {
    auto consistent = dynamic_cast<SqliteKvBackend&>(kv).usage_consistent(space);
    ASSERT_TRUE(consistent) << consistent.error().describe();
    EXPECT_TRUE(*consistent) << space;
  }

 private:
  std::filesystem::path dir_;
};

using namespace capsule::storage::testing;
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, KvBackendContract, SqliteEnv);

// Another writer (here: a raw connection, as another process would be) holds the file's write
// lock, so the backend's next write waits in SQLite's busy handler. Reads of other spaces must
// not wait behind it: they run on the reader connections.
TEST(SqliteKv, ReadsDoNotWaitBehindAWrite) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("capsule_kv_readers_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto kv = SqliteKvBackend::open(dir / "kv.db");
  ASSERT_TRUE(kv) << kv.error().describe();
  ASSERT_TRUE((*kv)->set("reader/space", "k", {1, 2, 3}, {}));

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "kv.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  std::atomic<bool> write_done{false};
  auto writer = std::async(std::launch::async, [&] {
    Status s = (*kv)->set("writer/space", "k", {4}, {});
    write_done.store(true);
    return s;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the write is waiting now
  ASSERT_FALSE(write_done.load());
  auto got = (*kv)->get("reader/space", "k");
  auto listed = (*kv)->list_keys("reader/space", "");
  auto used = (*kv)->usage("reader/space");
  EXPECT_FALSE(write_done.load()) << "the reads finished while the write was still waiting";
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, (Bytes{1, 2, 3}));
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 1U);
  ASSERT_TRUE(used);
  EXPECT_EQ(used->keys, 1U);

  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_TRUE(writer.get());
  auto written = (*kv)->get("writer/space", "k");
  ASSERT_TRUE(written && *written) << "readers see the write once it committed";
  kv->reset();
  std::filesystem::remove_all(dir);
}

TEST(SqliteKv, OpenFailsClearly) {
  auto r = SqliteKvBackend::open("/nonexistent-dir/x/kv.db");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cannot open storage"), std::string::npos);
}

}  // namespace
}  // namespace capsule::storage
