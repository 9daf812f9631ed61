#include <filesystem>
#include <gtest/gtest.h>
#include <thread>
#include <unistd.h>

#include <capsule/storage/sqlite_kv_backend.hpp>

namespace capsule::storage {
namespace {

Bytes bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

class SqliteKvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("capsule_kv_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    reopen();
  }
  void TearDown() override {
    kv.reset();
    std::filesystem::remove_all(dir);
  }
  void reopen() {
    kv.reset();
    auto opened = SqliteKvBackend::open(dir / "kv.db");
    ASSERT_TRUE(opened) << opened.error().describe();
    kv = std::move(*opened);
  }

  std::filesystem::path dir;
  std::unique_ptr<SqliteKvBackend> kv;
  security::StorageQuota quota{.max_bytes = 1000, .max_keys = 10};
};

TEST_F(SqliteKvTest, SetGetDeleteExists) {
  ASSERT_TRUE(kv->set("a/b", "k", bytes("v1"), quota));
  auto v = kv->get("a/b", "k");
  ASSERT_TRUE(v && v->has_value());
  EXPECT_EQ(**v, bytes("v1"));
  ASSERT_TRUE(kv->set("a/b", "k", bytes("value2"), quota));
  EXPECT_EQ(**kv->get("a/b", "k"), bytes("value2"));
  EXPECT_TRUE(*kv->exists("a/b", "k"));
  EXPECT_TRUE(*kv->erase("a/b", "k"));
  EXPECT_FALSE(*kv->erase("a/b", "k"));
  EXPECT_FALSE(*kv->exists("a/b", "k"));
  EXPECT_FALSE(kv->get("a/b", "k")->has_value());
  EXPECT_EQ(kv->usage("a/b")->keys, 0U);
  EXPECT_EQ(kv->usage("a/b")->bytes, 0U);
}

TEST_F(SqliteKvTest, EmptyValueIsAValue) {
  ASSERT_TRUE(kv->set("a/b", "empty", {}, quota));
  auto v = kv->get("a/b", "empty");
  ASSERT_TRUE(v && v->has_value());
  EXPECT_TRUE((*v)->empty());
}

TEST_F(SqliteKvTest, SpacesAreIsolated) {
  ASSERT_TRUE(kv->set("a/victim", "secret", bytes("s"), quota));
  EXPECT_FALSE(kv->get("a/thief", "secret")->has_value());
  EXPECT_FALSE(*kv->exists("a/thief", "secret"));
  EXPECT_TRUE(kv->list_keys("a/thief", "")->empty());
  EXPECT_FALSE(*kv->erase("a/thief", "secret"));
  EXPECT_EQ(kv->usage("a/thief")->keys, 0U);
  // Keys are opaque: no path resolution can climb into another space.
  for (const char* k : {"../victim/secret", "/a/victim/secret", "a/victim/secret"}) {
    EXPECT_FALSE(kv->get("a/thief", k)->has_value()) << k;
  }
  EXPECT_TRUE(kv->get("a/victim", "secret")->has_value());
}

TEST_F(SqliteKvTest, ListKeysByPrefixSorted) {
  for (const char* k : {"user/2", "user/1", "users", "order/1", "use"}) {
    ASSERT_TRUE(kv->set("s/x", k, bytes("v"), quota));
  }
  EXPECT_EQ(*kv->list_keys("s/x", "user/"), (std::vector<std::string>{"user/1", "user/2"}));
  EXPECT_EQ(*kv->list_keys("s/x", "user"), (std::vector<std::string>{"user/1", "user/2", "users"}));
  EXPECT_EQ(kv->list_keys("s/x", "")->size(), 5U);
  EXPECT_TRUE(kv->list_keys("s/x", "zzz")->empty());
}

TEST_F(SqliteKvTest, QuotaOnBytesIsAtomic) {
  // Entry size = key + value bytes.
  ASSERT_TRUE(kv->set("q/a", "k1", Bytes(498), quota));  // 500
  ASSERT_TRUE(kv->set("q/a", "k2", Bytes(498), quota));  // 1000: exactly the quota
  Status s = kv->set("q/a", "k3", Bytes(1), quota);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kQuotaExceeded);
  EXPECT_FALSE(kv->get("q/a", "k3")->has_value());
  EXPECT_EQ(kv->usage("q/a")->bytes, 1000U);
  // Overwriting with a smaller value frees space; a larger one that does not fit is refused
  // and leaves the old value.
  ASSERT_TRUE(kv->set("q/a", "k1", Bytes(100), quota));
  EXPECT_FALSE(kv->set("q/a", "k1", Bytes(900), quota));
  EXPECT_EQ((**kv->get("q/a", "k1")).size(), 100U);
  EXPECT_TRUE(*kv->usage_consistent("q/a"));
}

TEST_F(SqliteKvTest, QuotaOnKeys) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(kv->set("q/k", "k" + std::to_string(i), {}, quota));
  EXPECT_EQ(kv->set("q/k", "one-more", {}, quota).error().code, ErrorCode::kQuotaExceeded);
  EXPECT_TRUE(kv->set("q/k", "k3", bytes("update is fine"), quota));
  EXPECT_EQ(kv->usage("q/k")->keys, 10U);
}

TEST_F(SqliteKvTest, ConcurrentWritersNeverPassTheQuota) {
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        if (kv->set("q/c", "t" + std::to_string(t) + "-" + std::to_string(i), Bytes(50), quota)) {
          accepted.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto used = *kv->usage("q/c");
  EXPECT_LE(used.bytes, quota.max_bytes);
  EXPECT_LE(used.keys, quota.max_keys);
  EXPECT_EQ(used.keys, static_cast<std::uint64_t>(accepted.load()));
  EXPECT_TRUE(*kv->usage_consistent("q/c"));
}

TEST_F(SqliteKvTest, SurvivesReopen) {
  ASSERT_TRUE(kv->set("p/x", "k", bytes("persisted"), quota));
  reopen();
  EXPECT_EQ(**kv->get("p/x", "k"), bytes("persisted"));
  EXPECT_EQ(kv->usage("p/x")->keys, 1U);
}

TEST_F(SqliteKvTest, RejectsBadKeys) {
  EXPECT_EQ(kv->set("s/x", "", {}, quota).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(kv->set("s/x", std::string(kMaxKeyBytes + 1, 'k'), {}, quota));
  EXPECT_FALSE(kv->get("s/x", std::string_view("a\0b", 3)));
  EXPECT_TRUE(kv->set("s/x", std::string(kMaxKeyBytes, 'k'), {}, quota));
}

TEST_F(SqliteKvTest, OpenFailsClearly) {
  auto r = SqliteKvBackend::open("/nonexistent-dir/x/kv.db");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cannot open storage"), std::string::npos);
}

}  // namespace
}  // namespace capsule::storage
