// NatsKvBackend against a real nats-server with JetStream (fresh store directory per test): the
// KvBackend contract every backend passes (tests/storage/kv_backend_contract.hpp), plus what a
// shared network store adds: mixed concurrent writes from two hosts, server restarts, a server
// without JetStream, the server's max_payload.
#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <thread>

#include <capsule/cluster/nats_kv_backend.hpp>

#include "../storage/kv_backend_contract.hpp"
#include "cluster_clients.hpp"
#include "nats_server.hpp"

namespace capsule::cluster {
namespace {

using storage::Bytes;
using testing::NatsServer;

template <typename Predicate>
bool eventually(Predicate p, std::chrono::milliseconds timeout = std::chrono::seconds(8)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!p()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// A JetStream server with a fresh store per test; every open() is another host's backend.
class NatsEnv {
 public:
  std::unique_ptr<storage::KvBackend> open() {
    EXPECT_TRUE(server_.running());
    return testing::connect_kv(server_.url());
  }
  static void usage_is_exact(storage::KvBackend& kv, std::string_view space) {
    testing::expect_usage_exact(dynamic_cast<NatsKvBackend&>(kv), space);
  }

 private:
  NatsServer server_{NatsServer::Mode::kJetStream};
};

using namespace capsule::storage::testing;
INSTANTIATE_TYPED_TEST_SUITE_P(NatsKv, KvBackendContract, NatsEnv);

class NatsKvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server.running());
    kv = connect();
    ASSERT_NE(kv, nullptr);
  }

  std::unique_ptr<NatsKvBackend> connect() { return testing::connect_kv(server.url()); }

  // usage() equals the sum of the entries (nothing crashed mid-write in these tests).
  void expect_usage_exact(std::string_view space) { testing::expect_usage_exact(*kv, space); }

  NatsServer server{NatsServer::Mode::kJetStream};
  std::unique_ptr<NatsKvBackend> kv;
  security::StorageQuota quota{.max_bytes = 1000, .max_keys = 10};
};

// A fenced write (a failover unit's) whose permission ends while it races another writer: the
// old owner read the key, the new owner wrote it, and the old owner's compare-and-set lost. It
// must not retry on the new revision (that would land its stale value on top of the new
// owner's), but ask again and stop. The race is made exact: the permit check itself writes as
// the other host the first time it is asked.
TEST_F(NatsKvTest, AWriteWhosePermitEndsDuringARaceIsNotRetried) {
  auto new_owner = connect();
  ASSERT_NE(new_owner, nullptr);
  const auto bytes = [](std::string_view text) { return Bytes(text.begin(), text.end()); };
  ASSERT_TRUE(kv->set("bank", "balance", bytes("897"), quota));
  int asked = 0;
  const Status s = kv->set_if("bank", "balance", bytes("898"), quota, [&]() -> Status {
    if (++asked == 1) {
      EXPECT_TRUE(new_owner->set("bank", "balance", bytes("1000"), quota));
      return ok();  // still allowed when the first write leaves: it loses the race
    }
    return make_error(ErrorCode::kUnavailable, "lease lost");
  });
  ASSERT_FALSE(s) << "the stale write was retried and landed";
  EXPECT_EQ(s.error().message, "lease lost");
  EXPECT_EQ(asked, 2) << "asked once per write that leaves, and again before the retry";
  auto now = kv->get("bank", "balance");
  ASSERT_TRUE(now) << now.error().describe();
  ASSERT_TRUE(now->has_value());
  EXPECT_EQ(**now, bytes("1000")) << "the new owner's write must stand";
  expect_usage_exact("bank");

  // The same for a delete.
  asked = 0;
  auto erased = kv->erase_if("bank", "balance", [&]() -> Status {
    if (++asked == 1) {
      EXPECT_TRUE(new_owner->set("bank", "balance", bytes("1001"), quota));
      return ok();
    }
    return make_error(ErrorCode::kUnavailable, "lease lost");
  });
  ASSERT_FALSE(erased);
  auto still = kv->get("bank", "balance");
  ASSERT_TRUE(still && still->has_value());
  EXPECT_EQ(**still, bytes("1001"));
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

TEST_F(NatsKvTest, RejectsBadSpacesAndBuckets) {
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
