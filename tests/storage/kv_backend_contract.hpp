#pragma once
// What every KvBackend must do, run against each implementation (SqliteKvBackend in
// tests/storage, NatsKvBackend in tests/cluster), so the two cannot drift apart.
//
// An Env type provides the store under test:
//   std::unique_ptr<storage::KvBackend> open();  // a new handle onto the same store, as another
//                                               // process or host would open it (null: failed)
//   void usage_is_exact(storage::KvBackend&, std::string_view space);  // gtest assertions that
//                                               // usage() equals the sum of the entries
#include <algorithm>
#include <atomic>
#include <gtest/gtest.h>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <capsule/storage/kv_backend.hpp>

namespace capsule::storage::testing {

inline Bytes bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

template <typename Env>
class KvBackendContract : public ::testing::Test {
 protected:
  void SetUp() override {
    kv = env.open();
    ASSERT_NE(kv, nullptr);
  }
  void TearDown() override { kv.reset(); }

  Env env;
  std::unique_ptr<KvBackend> kv;
  security::StorageQuota quota{.max_bytes = 1000, .max_keys = 10};
};

TYPED_TEST_SUITE_P(KvBackendContract);

TYPED_TEST_P(KvBackendContract, SetGetDeleteExists) {
  auto& store = this->kv;
  ASSERT_TRUE(store->set("a/b", "k", bytes("v1"), this->quota));
  auto v = store->get("a/b", "k");
  ASSERT_TRUE(v && v->has_value()) << (v ? "absent" : v.error().describe());
  EXPECT_EQ(**v, bytes("v1"));
  ASSERT_TRUE(store->set("a/b", "k", bytes("value2"), this->quota));
  EXPECT_EQ(**store->get("a/b", "k"), bytes("value2"));
  EXPECT_EQ(store->usage("a/b")->bytes, 7U);
  EXPECT_TRUE(*store->exists("a/b", "k"));
  EXPECT_TRUE(*store->erase("a/b", "k"));
  EXPECT_FALSE(*store->erase("a/b", "k"));
  EXPECT_FALSE(*store->exists("a/b", "k"));
  EXPECT_FALSE(store->get("a/b", "k")->has_value());
  EXPECT_EQ(store->usage("a/b")->keys, 0U);
  EXPECT_EQ(store->usage("a/b")->bytes, 0U);
  ASSERT_TRUE(store->set("a/b", "k", bytes("again"), this->quota)) << "a deleted key comes back";
  EXPECT_EQ(**store->get("a/b", "k"), bytes("again"));
  this->env.usage_is_exact(*store, "a/b");
}

TYPED_TEST_P(KvBackendContract, EmptyValueIsAValue) {
  auto& store = this->kv;
  ASSERT_TRUE(store->set("a/b", "empty", {}, this->quota));
  auto v = store->get("a/b", "empty");
  ASSERT_TRUE(v && v->has_value());
  EXPECT_TRUE((*v)->empty());
  EXPECT_TRUE(*store->exists("a/b", "empty"));
  EXPECT_EQ(store->usage("a/b")->bytes, 5U);
  EXPECT_EQ(*store->list_keys("a/b", ""), std::vector<std::string>{"empty"});
}

TYPED_TEST_P(KvBackendContract, SpacesAreIsolated) {
  auto& store = this->kv;
  ASSERT_TRUE(store->set("a/victim", "secret", bytes("s"), this->quota));
  ASSERT_TRUE(store->set("a/victimx", "other", bytes("o"), this->quota));  // a space name prefix
  EXPECT_FALSE(store->get("a/thief", "secret")->has_value());
  EXPECT_FALSE(*store->exists("a/thief", "secret"));
  EXPECT_TRUE(store->list_keys("a/thief", "")->empty());
  EXPECT_FALSE(*store->erase("a/thief", "secret"));
  EXPECT_EQ(store->usage("a/thief")->keys, 0U);
  EXPECT_EQ(*store->list_keys("a/victim", ""), std::vector<std::string>{"secret"});
  EXPECT_EQ(*store->list_keys("a/victimx", ""), std::vector<std::string>{"other"});
  // Keys are opaque: no path resolution or pattern syntax climbs into another space.
  for (const char* k :
       {"../victim/secret", "/a/victim/secret", "a/victim/secret", "*", ">", "%", "usage"}) {
    EXPECT_FALSE(store->get("a/thief", k)->has_value()) << k;
  }
  ASSERT_TRUE(store->set("a/victim", "usage", bytes("mine"), this->quota)) << "just a key";
  EXPECT_EQ(**store->get("a/victim", "usage"), bytes("mine"));
  EXPECT_EQ(store->usage("a/victim")->keys, 2U);
  this->env.usage_is_exact(*store, "a/victim");
}

TYPED_TEST_P(KvBackendContract, ListKeysByPrefixSorted) {
  auto& store = this->kv;
  for (const char* k : {"user/2", "user/1", "users", "order/1", "use"}) {
    ASSERT_TRUE(store->set("s/x", k, bytes("v"), this->quota));
  }
  EXPECT_EQ(*store->list_keys("s/x", "user/"), (std::vector<std::string>{"user/1", "user/2"}));
  EXPECT_EQ(*store->list_keys("s/x", "user"),
            (std::vector<std::string>{"user/1", "user/2", "users"}));
  EXPECT_EQ(store->list_keys("s/x", "")->size(), 5U);
  EXPECT_TRUE(store->list_keys("s/x", "zzz")->empty());
  EXPECT_TRUE(store->list_keys("s/x", "%")->empty()) << "no LIKE-style wildcards in prefixes";
  ASSERT_TRUE(*store->erase("s/x", "users"));
  EXPECT_EQ(*store->list_keys("s/x", "user"), (std::vector<std::string>{"user/1", "user/2"}));
}

TYPED_TEST_P(KvBackendContract, KeysWithArbitraryBytesRoundTripAndSortByteWise) {
  auto& store = this->kv;
  const security::StorageQuota big{.max_bytes = 100000, .max_keys = 100};
  const std::vector<std::string> keys{"\xff\xfe",
                                      "a.b",
                                      "a b",
                                      "*",
                                      ">",
                                      "\x01",
                                      "%_",
                                      "a\tb",
                                      "$KV.x",
                                      "\xc3\xa9t\xc3\xa9",
                                      std::string(kMaxKeyBytes, 'k')};
  for (const auto& k : keys) ASSERT_TRUE(store->set("b/x", k, bytes(k), big)) << k;
  for (const auto& k : keys) {
    auto v = store->get("b/x", k);
    ASSERT_TRUE(v && v->has_value()) << k;
    EXPECT_EQ(**v, bytes(k));
  }
  auto listed = store->list_keys("b/x", "");
  ASSERT_TRUE(listed) << listed.error().describe();
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end(), [](const std::string& a, const std::string& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
    });
  });
  EXPECT_EQ(*listed, sorted);
  EXPECT_EQ(*store->list_keys("b/x", "a"), (std::vector<std::string>{"a\tb", "a b", "a.b"}));
  EXPECT_EQ(*store->list_keys("b/x", "\xff"), std::vector<std::string>{"\xff\xfe"});
  this->env.usage_is_exact(*store, "b/x");
}

TYPED_TEST_P(KvBackendContract, QuotaOnBytesIsAtomic) {
  auto& store = this->kv;
  const auto& limit = this->quota;
  // Entry size = key + value bytes.
  ASSERT_TRUE(store->set("q/a", "k1", Bytes(498), limit));  // 500
  ASSERT_TRUE(store->set("q/a", "k2", Bytes(498), limit));  // 1000: exactly the quota
  Status s = store->set("q/a", "k3", Bytes(1), limit);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kQuotaExceeded) << s.error().describe();
  EXPECT_FALSE(store->get("q/a", "k3")->has_value());
  EXPECT_EQ(store->usage("q/a")->bytes, 1000U);
  // Overwriting with a smaller value frees space; a larger one that does not fit is refused
  // and leaves the old value.
  ASSERT_TRUE(store->set("q/a", "k1", Bytes(100), limit));
  EXPECT_EQ(store->set("q/a", "k1", Bytes(900), limit).error().code, ErrorCode::kQuotaExceeded);
  EXPECT_EQ((**store->get("q/a", "k1")).size(), 100U);
  EXPECT_EQ(store->usage("q/a")->bytes, 602U);
  this->env.usage_is_exact(*store, "q/a");
}

TYPED_TEST_P(KvBackendContract, QuotaOnKeys) {
  auto& store = this->kv;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->set("q/k", "k" + std::to_string(i), {}, this->quota));
  }
  EXPECT_EQ(store->set("q/k", "one-more", {}, this->quota).error().code, ErrorCode::kQuotaExceeded);
  EXPECT_TRUE(store->set("q/k", "k3", bytes("update is fine"), this->quota));
  EXPECT_EQ(store->usage("q/k")->keys, 10U);
  EXPECT_FALSE(*store->exists("q/k", "one-more"));
  this->env.usage_is_exact(*store, "q/k");
}

// Two handles onto one store (two processes, or two hosts) write one space at once.
TYPED_TEST_P(KvBackendContract, ConcurrentWritersOnTwoHandlesNeverPassTheQuota) {
  auto other = this->env.open();
  ASSERT_NE(other, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  std::atomic<int> unexpected{0};
  for (int t = 0; t < 4; ++t) {
    KvBackend* handle = t % 2 == 0 ? this->kv.get() : other.get();
    threads.emplace_back([&, handle, t] {
      for (int i = 0; i < 12; ++i) {
        Status s = handle->set("q/c", "t" + std::to_string(t) + "-" + std::to_string(i), Bytes(50),
                               this->quota);
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
  const auto used = *this->kv->usage("q/c");
  EXPECT_LE(used.bytes, this->quota.max_bytes);
  EXPECT_EQ(used.keys, static_cast<std::uint64_t>(accepted.load()));
  EXPECT_EQ(accepted.load(), 10) << "53-byte entries: the key limit binds first";
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(this->kv->list_keys("q/c", "")->size(), used.keys);
  this->env.usage_is_exact(*this->kv, "q/c");
}

TYPED_TEST_P(KvBackendContract, AnotherHandleSeesCommittedWrites) {
  ASSERT_TRUE(this->kv->set("p/x", "k", bytes("persisted"), this->quota));
  this->kv.reset();
  auto again = this->env.open();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(**again->get("p/x", "k"), bytes("persisted"));
  EXPECT_EQ(again->usage("p/x")->keys, 1U);
}

TYPED_TEST_P(KvBackendContract, RejectsBadKeys) {
  auto& store = this->kv;
  EXPECT_EQ(store->set("s/x", "", {}, this->quota).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->set("s/x", std::string(kMaxKeyBytes + 1, 'k'), {}, this->quota).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store->get("s/x", std::string_view("a\0b", 3)));
  EXPECT_TRUE(store->set("s/x", std::string(kMaxKeyBytes, 'k'), {}, this->quota));
}

// A decimal counter: what wasi:keyvalue's atomics.increment does with update_if.
inline KvBackend::Update add_one() {
  return [](const std::optional<Bytes>& current) -> Result<Bytes> {
    const std::uint64_t n =
        current ? std::stoull(std::string(current->begin(), current->end())) : 0;
    const std::string next = std::to_string(n + 1);
    return Bytes(next.begin(), next.end());
  };
}

// Four writers on two handles (two processes, or two hosts) update one key at once: no update
// is lost.
TYPED_TEST_P(KvBackendContract, UpdatesOnTwoHandlesAreAtomic) {
  auto other = this->env.open();
  ASSERT_NE(other, nullptr);
  const KvBackend::WritePermit always = [] { return ok(); };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    KvBackend* handle = t % 2 == 0 ? this->kv.get() : other.get();
    threads.emplace_back([&, handle] {
      for (int i = 0; i < 25; ++i) {
        auto r = handle->update_if("u/c", "n", add_one(), this->quota, always);
        if (!r) ADD_FAILURE() << r.error().describe();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(**this->kv->get("u/c", "n"), bytes("100"));
  this->env.usage_is_exact(*this->kv, "u/c");
}

TYPED_TEST_P(KvBackendContract, RefusedUpdatesChangeNothing) {
  auto& store = this->kv;
  const KvBackend::WritePermit always = [] { return ok(); };
  ASSERT_TRUE(store->set("u/r", "n", bytes("41"), this->quota));
  auto r = store->update_if("u/r", "n", add_one(), this->quota, always);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(*r, bytes("42")) << "the value written is returned";
  // The update's own error, the permit's, and the quota's: the value stays 42.
  const KvBackend::Update refuse = [](const std::optional<Bytes>&) -> Result<Bytes> {
    return make_error(ErrorCode::kInvalidArgument, "not a number");
  };
  EXPECT_EQ(store->update_if("u/r", "n", refuse, this->quota, always).error().code,
            ErrorCode::kInvalidArgument);
  const KvBackend::WritePermit closed = [] {
    return make_error(ErrorCode::kUnavailable, "window closed");
  };
  EXPECT_EQ(store->update_if("u/r", "n", add_one(), this->quota, closed).error().code,
            ErrorCode::kUnavailable);
  const KvBackend::Update grow = [](const std::optional<Bytes>&) -> Result<Bytes> {
    return Bytes(2000, 'x');
  };
  EXPECT_EQ(store->update_if("u/r", "n", grow, this->quota, always).error().code,
            ErrorCode::kQuotaExceeded);
  EXPECT_EQ(**store->get("u/r", "n"), bytes("42"));
  // An absent key reaches the update as none.
  auto fresh = store->update_if("u/r", "fresh", add_one(), this->quota, always);
  ASSERT_TRUE(fresh) << fresh.error().describe();
  EXPECT_EQ(*fresh, bytes("1"));
  this->env.usage_is_exact(*store, "u/r");
}

REGISTER_TYPED_TEST_SUITE_P(KvBackendContract, SetGetDeleteExists, EmptyValueIsAValue,
                            SpacesAreIsolated, ListKeysByPrefixSorted,
                            KeysWithArbitraryBytesRoundTripAndSortByteWise, QuotaOnBytesIsAtomic,
                            QuotaOnKeys, ConcurrentWritersOnTwoHandlesNeverPassTheQuota,
                            AnotherHandleSeesCommittedWrites, RejectsBadKeys,
                            UpdatesOnTwoHandlesAreAtomic, RefusedUpdatesChangeNothing);

}  // namespace capsule::storage::testing
