// NatsKvBackend against a real nats-server with JetStream (fresh store directory per test): the
// behaviours of SqliteKvBackend (tests/storage/sqlite_kv_backend_test.cpp), plus what a shared
// network store adds: two backends ("hosts") writing one space at once, server restarts, a
// server without JetStream, the server's max_payload.
#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <thread>

#include <capsule/cluster/nats_kv_backend.hpp>

#include "nats_server.hpp"

namespace capsule::cluster {
namespace {

using storage::Bytes;
using testing::NatsServer;

Bytes bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

template <typename Predicate>
bool eventually(Predicate p, std::chrono::milliseconds timeout = std::chrono::seconds(8)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!p()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

class NatsKvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server.running());
    kv = connect();
    ASSERT_NE(kv, nullptr);
  }

  std::unique_ptr<NatsKvBackend> connect() {
    NatsKvBackend::Options options;
    options.url = server.url();
    auto connected = NatsKvBackend::connect(options);
    EXPECT_TRUE(connected) << connected.error().describe();
    return connected ? std::move(*connected) : nullptr;
  }

  // usage() equals the sum of the entries (nothing crashed mid-write in these tests).
  void expect_usage_exact(std::string_view space) {
    auto stored = kv->usage(space);
    auto actual = kv->recompute_usage(space);
    ASSERT_TRUE(stored) << stored.error().describe();
    ASSERT_TRUE(actual) << actual.error().describe();
    EXPECT_EQ(stored->bytes, actual->bytes) << space;
    EXPECT_EQ(stored->keys, actual->keys) << space;
  }

  NatsServer server{NatsServer::Mode::kJetStream};
  std::unique_ptr<NatsKvBackend> kv;
  security::StorageQuota quota{.max_bytes = 1000, .max_keys = 10};
};

TEST_F(NatsKvTest, SetGetDeleteExists) {
  ASSERT_TRUE(kv->set("a/b", "k", bytes("v1"), quota));
  auto v = kv->get("a/b", "k");
  ASSERT_TRUE(v && v->has_value()) << (v ? "absent" : v.error().describe());
  EXPECT_EQ(**v, bytes("v1"));
  ASSERT_TRUE(kv->set("a/b", "k", bytes("value2"), quota));
  EXPECT_EQ(**kv->get("a/b", "k"), bytes("value2"));
  EXPECT_EQ(kv->usage("a/b")->bytes, 7U);
  EXPECT_TRUE(*kv->exists("a/b", "k"));
  EXPECT_TRUE(*kv->erase("a/b", "k"));
  EXPECT_FALSE(*kv->erase("a/b", "k"));
  EXPECT_FALSE(*kv->exists("a/b", "k"));
  EXPECT_FALSE(kv->get("a/b", "k")->has_value());
  EXPECT_EQ(kv->usage("a/b")->keys, 0U);
  EXPECT_EQ(kv->usage("a/b")->bytes, 0U);
  // A deleted key can be created again.
  ASSERT_TRUE(kv->set("a/b", "k", bytes("again"), quota));
  EXPECT_EQ(**kv->get("a/b", "k"), bytes("again"));
  expect_usage_exact("a/b");
}

TEST_F(NatsKvTest, EmptyValueIsAValue) {
  ASSERT_TRUE(kv->set("a/b", "empty", {}, quota));
  auto v = kv->get("a/b", "empty");
  ASSERT_TRUE(v && v->has_value());
  EXPECT_TRUE((*v)->empty());
  EXPECT_TRUE(*kv->exists("a/b", "empty"));
  EXPECT_EQ(kv->usage("a/b")->bytes, 5U);
  EXPECT_EQ(*kv->list_keys("a/b", ""), std::vector<std::string>{"empty"});
}

TEST_F(NatsKvTest, SpacesAreIsolated) {
  ASSERT_TRUE(kv->set("a/victim", "secret", bytes("s"), quota));
  // "a/victimx" hex-encodes to a string that starts with the encoding of "a/victim".
  ASSERT_TRUE(kv->set("a/victimx", "other", bytes("o"), quota));
  EXPECT_FALSE(kv->get("a/thief", "secret")->has_value());
  EXPECT_FALSE(*kv->exists("a/thief", "secret"));
  EXPECT_TRUE(kv->list_keys("a/thief", "")->empty());
  EXPECT_FALSE(*kv->erase("a/thief", "secret"));
  EXPECT_EQ(kv->usage("a/thief")->keys, 0U);
  EXPECT_EQ(*kv->list_keys("a/victim", ""), std::vector<std::string>{"secret"});
  EXPECT_EQ(*kv->list_keys("a/victimx", ""), std::vector<std::string>{"other"});
  EXPECT_EQ(kv->usage("a/victim")->keys, 1U);
  // Keys are opaque: no path resolution or subject syntax can climb into another space.
  for (const char* k :
       {"../victim/secret", "/a/victim/secret", "a/victim/secret", "*", ">", "secret.>", "usage"}) {
    EXPECT_FALSE(kv->get("a/thief", k)->has_value()) << k;
  }
  // A data key called "usage" is not the usage entry.
  ASSERT_TRUE(kv->set("a/victim", "usage", bytes("mine"), quota));
  EXPECT_EQ(**kv->get("a/victim", "usage"), bytes("mine"));
  EXPECT_EQ(kv->usage("a/victim")->keys, 2U);
  EXPECT_TRUE(kv->get("a/victim", "secret")->has_value());
  expect_usage_exact("a/victim");
}

TEST_F(NatsKvTest, ListKeysByPrefixSorted) {
  for (const char* k : {"user/2", "user/1", "users", "order/1", "use"}) {
    ASSERT_TRUE(kv->set("s/x", k, bytes("v"), quota));
  }
  EXPECT_EQ(*kv->list_keys("s/x", "user/"), (std::vector<std::string>{"user/1", "user/2"}));
  EXPECT_EQ(*kv->list_keys("s/x", "user"), (std::vector<std::string>{"user/1", "user/2", "users"}));
  EXPECT_EQ(kv->list_keys("s/x", "")->size(), 5U);
  EXPECT_TRUE(kv->list_keys("s/x", "zzz")->empty());
  // Deleted keys are not listed.
  ASSERT_TRUE(*kv->erase("s/x", "users"));
  EXPECT_EQ(*kv->list_keys("s/x", "user"), (std::vector<std::string>{"user/1", "user/2"}));
}

TEST_F(NatsKvTest, KeysWithArbitraryBytesRoundTripAndSortByteWise) {
  const security::StorageQuota big{.max_bytes = 100000, .max_keys = 100};
  const std::vector<std::string> keys{"\xff\xfe",
                                      "a.b",
                                      "a b",
                                      "*",
                                      ">",
                                      "\x01",
                                      "\xc3\xa9t\xc3\xa9",
                                      "a\tb",
                                      "$KV.x",
                                      std::string(storage::kMaxKeyBytes, 'k')};
  for (const auto& k : keys) ASSERT_TRUE(kv->set("b/x", k, bytes(k), big)) << k;
  for (const auto& k : keys) {
    auto v = kv->get("b/x", k);
    ASSERT_TRUE(v && v->has_value()) << k;
    EXPECT_EQ(**v, bytes(k));
  }
  auto listed = kv->list_keys("b/x", "");
  ASSERT_TRUE(listed) << listed.error().describe();
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end(), [](const std::string& a, const std::string& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
    });
  });
  EXPECT_EQ(*listed, sorted);
  EXPECT_EQ(listed->back(), "\xff\xfe");
  EXPECT_EQ(*kv->list_keys("b/x", "a"), (std::vector<std::string>{"a\tb", "a b", "a.b"}));
  EXPECT_EQ(*kv->list_keys("b/x", "\xff"), std::vector<std::string>{"\xff\xfe"});
  expect_usage_exact("b/x");
}

TEST_F(NatsKvTest, QuotaOnBytesIsAtomic) {
  // Entry size = key + value bytes.
  ASSERT_TRUE(kv->set("q/a", "k1", Bytes(498), quota));  // 500
  ASSERT_TRUE(kv->set("q/a", "k2", Bytes(498), quota));  // 1000: exactly the quota
  Status s = kv->set("q/a", "k3", Bytes(1), quota);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kQuotaExceeded) << s.error().describe();
  EXPECT_FALSE(kv->get("q/a", "k3")->has_value());
  EXPECT_EQ(kv->usage("q/a")->bytes, 1000U);
  // Overwriting with a smaller value frees space; a larger one that does not fit is refused
  // and leaves the old value.
  ASSERT_TRUE(kv->set("q/a", "k1", Bytes(100), quota));
  EXPECT_EQ(kv->set("q/a", "k1", Bytes(900), quota).error().code, ErrorCode::kQuotaExceeded);
  EXPECT_EQ((**kv->get("q/a", "k1")).size(), 100U);
  EXPECT_EQ(kv->usage("q/a")->bytes, 602U);
  expect_usage_exact("q/a");
}

TEST_F(NatsKvTest, QuotaOnKeys) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(kv->set("q/k", "k" + std::to_string(i), {}, quota));
  EXPECT_EQ(kv->set("q/k", "one-more", {}, quota).error().code, ErrorCode::kQuotaExceeded);
  EXPECT_TRUE(kv->set("q/k", "k3", bytes("update is fine"), quota));
  EXPECT_EQ(kv->usage("q/k")->keys, 10U);
  EXPECT_FALSE(*kv->exists("q/k", "one-more"));
  expect_usage_exact("q/k");
}

// Two hosts, each with its own backend (own connection), write one space at once: the quota
// holds across them and usage stays the exact sum of what was written.
TEST_F(NatsKvTest, ConcurrentWritersOnTwoHostsNeverPassTheQuota) {
  auto other_host = connect();
  ASSERT_NE(other_host, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  std::atomic<int> unexpected{0};
  for (int t = 0; t < 4; ++t) {
    NatsKvBackend* host = t % 2 == 0 ? kv.get() : other_host.get();
    threads.emplace_back([&, host, t] {
      for (int i = 0; i < 12; ++i) {
        Status s =
            host->set("q/c", "t" + std::to_string(t) + "-" + std::to_string(i), Bytes(50), quota);
        if (s) {
          accepted.fetch_add(1);
        } else if (s.error().code != ErrorCode::kQuotaExceeded) {
          ADD_FAILURE() << s.error().describe();
          unexpected.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto used = *kv->usage("q/c");
  EXPECT_LE(used.bytes, quota.max_bytes);
  EXPECT_LE(used.keys, quota.max_keys);
  EXPECT_EQ(used.keys, static_cast<std::uint64_t>(accepted.load()));
  EXPECT_EQ(accepted.load(), 10);  // 53-byte entries: the key limit binds first
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(kv->list_keys("q/c", "")->size(), used.keys);
  expect_usage_exact("q/c");
}

// Overwrites of one shared key with different sizes, creates and deletes from two hosts at once:
// value conflicts take their reservations back, so usage ends exact and never over the quota.
TEST_F(NatsKvTest, MixedConcurrentWritesKeepUsageExact) {
  auto other_host = connect();
  ASSERT_NE(other_host, nullptr);
  const security::StorageQuota q{.max_bytes = 2000, .max_keys = 8};
  std::vector<std::thread> threads;
  std::atomic<int> unexpected{0};
  for (int t = 0; t < 4; ++t) {
    NatsKvBackend* host = t % 2 == 0 ? kv.get() : other_host.get();
    threads.emplace_back([&, host, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string own = "t" + std::to_string(t) + "-" + std::to_string(i % 3);
        Status s = host->set("q/m", "shared", Bytes(static_cast<std::size_t>(10 + 97 * t + i)), q);
        if (!s && s.error().code != ErrorCode::kQuotaExceeded) {
          ADD_FAILURE() << s.error().describe();
          unexpected.fetch_add(1);
        }
        if (i % 4 == 3) {
          auto erased = host->erase("q/m", own);
          if (!erased) ADD_FAILURE() << erased.error().describe();
        } else {
          s = host->set("q/m", own, Bytes(static_cast<std::size_t>(20 * i)), q);
          if (!s && s.error().code != ErrorCode::kQuotaExceeded) {
            ADD_FAILURE() << s.error().describe();
            unexpected.fetch_add(1);
          }
        }
        const auto used = host->usage("q/m");
        if (used) {
          EXPECT_LE(used->bytes, q.max_bytes);
          EXPECT_LE(used->keys, q.max_keys);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(unexpected.load(), 0);
  // The shared key and the usage entry were contended: conflicts happened and were resolved.
  EXPECT_GT(kv->conflicts() + other_host->conflicts(), 0U);
  expect_usage_exact("q/m");
  EXPECT_EQ(kv->list_keys("q/m", "")->size(), kv->usage("q/m")->keys);
}

TEST_F(NatsKvTest, SurvivesServerRestartWithTheSameStore) {
  ASSERT_TRUE(kv->set("p/x", "k", bytes("persisted"), quota));
  kv.reset();
  server.stop();
  ASSERT_TRUE(server.start());
  // Binds the existing bucket (retried: a loaded machine may take a moment to restore it).
  NatsKvBackend::Options options;
  options.url = server.url();
  ASSERT_TRUE(eventually([&] {
    auto connected = NatsKvBackend::connect(options);
    if (connected) kv = std::move(*connected);
    return kv != nullptr;
  }));
  auto v = kv->get("p/x", "k");
  ASSERT_TRUE(v && v->has_value()) << (v ? "absent" : v.error().describe());
  EXPECT_EQ(**v, bytes("persisted"));
  EXPECT_EQ(kv->usage("p/x")->keys, 1U);
  EXPECT_EQ(*kv->list_keys("p/x", ""), std::vector<std::string>{"k"});
}

TEST_F(NatsKvTest, ServerDownIsUnavailableThenRecovers) {
  ASSERT_TRUE(kv->set("d/x", "k", bytes("before"), quota));
  server.stop();
  // Fails fast (the client is reconnecting), naming the server, and the caller keeps running.
  ASSERT_TRUE(eventually([&] { return !kv->connected(); }));
  const auto t0 = std::chrono::steady_clock::now();
  auto got = kv->get("d/x", "k");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(got.error().message.find(server.url()), std::string::npos) << got.error().message;
  Status s = kv->set("d/x", "k2", bytes("during"), quota);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(kv->list_keys("d/x", "").error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(kv->erase("d/x", "k").error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(kv->usage("d/x").error().code, ErrorCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));

  ASSERT_TRUE(server.start());
  ASSERT_TRUE(
      eventually([&] { return static_cast<bool>(kv->set("d/x", "k2", bytes("after"), quota)); }));
  EXPECT_EQ(**kv->get("d/x", "k"), bytes("before"));
  EXPECT_EQ(**kv->get("d/x", "k2"), bytes("after"));
  EXPECT_EQ(kv->usage("d/x")->keys, 2U);
  expect_usage_exact("d/x");
}

TEST_F(NatsKvTest, ValueLargerThanMaxPayloadIsRefusedNamingBothSizes) {
  const security::StorageQuota big{.max_bytes = 8U << 20U, .max_keys = 10};
  const std::size_t limit = kv->max_value_bytes();
  ASSERT_GT(limit, 1000000U);  // default max_payload: 1 MiB
  ASSERT_LT(limit, 1U << 20U);
  Status s = kv->set("v/x", "big", Bytes(std::size_t{1536} * 1024), big);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().message.find("1572864"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("1048576"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("max_payload"), std::string::npos) << s.error().message;
  EXPECT_EQ(kv->set("v/x", "huge", Bytes(storage::kMaxValueBytes + 1), big).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(kv->usage("v/x")->keys, 0U);
  // The largest value that fits goes through.
  Bytes largest(limit, 7);
  ASSERT_TRUE(kv->set("v/x", "largest", largest, big));
  EXPECT_EQ(**kv->get("v/x", "largest"), largest);
  expect_usage_exact("v/x");
}

TEST_F(NatsKvTest, RejectsBadKeysAndBuckets) {
  EXPECT_EQ(kv->set("s/x", "", {}, quota).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(kv->set("s/x", std::string(storage::kMaxKeyBytes + 1, 'k'), {}, quota));
  EXPECT_FALSE(kv->get("s/x", std::string_view("a\0b", 3)));
  EXPECT_TRUE(kv->set("s/x", std::string(storage::kMaxKeyBytes, 'k'), {}, quota));
  EXPECT_EQ(kv->get("", "k").error().code, ErrorCode::kInvalidArgument);
  NatsKvBackend::Options options;
  options.url = server.url();
  options.bucket = "bad.bucket";
  auto r = NatsKvBackend::connect(options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(NatsKvTest, BucketsAreSeparateStores) {
  NatsKvBackend::Options options;
  options.url = server.url();
  options.bucket = "other-bucket_2";
  auto other = NatsKvBackend::connect(options);
  ASSERT_TRUE(other) << other.error().describe();
  ASSERT_TRUE(kv->set("a/b", "k", bytes("v"), quota));
  EXPECT_FALSE((*other)->get("a/b", "k")->has_value());
}

TEST(NatsKvServer, WithoutJetStreamIsUnavailableAndSaysToStartWithJs) {
  NatsServer plain;  // core NATS only
  ASSERT_TRUE(plain.running());
  NatsKvBackend::Options options;
  options.url = plain.url();
  auto r = NatsKvBackend::connect(options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("-js"), std::string::npos) << r.error().message;
}

TEST(NatsKvServer, NoServerIsUnavailable) {
  NatsServer server(NatsServer::Mode::kJetStream);
  const std::string url = server.url();
  server.stop();
  NatsKvBackend::Options options;
  options.url = url;
  auto r = NatsKvBackend::connect(options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find(url), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace capsule::cluster
