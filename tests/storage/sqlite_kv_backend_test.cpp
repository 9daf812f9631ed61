#include <filesystem>
#include <gtest/gtest.h>
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

TEST(SqliteKv, OpenFailsClearly) {
  auto r = SqliteKvBackend::open("/nonexistent-dir/x/kv.db");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cannot open storage"), std::string::npos);
}

}  // namespace
}  // namespace capsule::storage
