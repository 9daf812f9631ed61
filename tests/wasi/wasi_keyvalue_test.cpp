// wasi:keyvalue on capsule storage, through a real component (guest/examples/wasi_kv.c, built
// with wit-bindgen against the vendored wasi:keyvalue@0.2.0-draft) on a host with capability
// checks, audit and SQLite, next to a canary that must keep answering (HostileFixture).
#include <cstdio>
#include <future>
#include <string>
#include <vector>

#include "hostile_fixture.hpp"

namespace capsule::hostile {
namespace {

using security::Action;

class WasiKeyValue : public HostileFixture {
 protected:
  static security::ComponentPermissions storage_grants(security::StorageQuota quota = {}) {
    return grants({{Action::kStorageRead, "**", {}},
                   {Action::kStorageWrite, "**", {}},
                   {Action::kStorageDelete, "**", {}}},
                  quota);
  }

  ComponentId kv(const std::string& name,
                 security::ComponentPermissions permissions = storage_grants()) {
    auto id = start_component(name, "wasi_kv", std::move(permissions), {});
    EXPECT_TRUE(id) << id.error().describe();
    return id ? *id : ComponentId{};
  }

  // The component's reply to one command; an error outcome as "call failed: ...".
  std::string run(const ComponentId& id, const std::string& command) {
    auto r = runtime->call(id, Payload::text(command), 30s);
    return r ? r->as_string() : "call failed: " + r.error().describe();
  }

  // The canary answers and was never restarted, the bystander's data is intact. (Audit records
  // are not checked: these components are not named "hostile".)
  void expect_host_intact() {
    expect_canary_answers();
    EXPECT_EQ(starts_of(canary), 1U) << "the canary was restarted";
    auto secret = store->get("test/bystander", "secret");
    ASSERT_TRUE(secret && *secret);
    EXPECT_EQ(**secret, bytes("untouched"));
  }

  std::string stored(const std::string& name, const std::string& key) {
    auto v = store->get("test/" + name, key);
    if (!v) return "error: " + v.error().describe();
    if (!*v) return "none";
    return {(*v)->begin(), (*v)->end()};
  }
};

TEST_F(WasiKeyValue, StoreOperationsAreCapsuleStorageOfTheComponent) {
  const ComponentId id = kv("kv");
  EXPECT_EQ(run(id, "set - a 1"), "ok");
  EXPECT_EQ(run(id, "get - a"), "1");
  EXPECT_EQ(run(id, "exists - a"), "true");
  EXPECT_EQ(run(id, "exists - b"), "false");
  EXPECT_EQ(run(id, "get - b"), "none");
  EXPECT_EQ(run(id, "set cache x 2"), "ok");
  EXPECT_EQ(run(id, "get cache x"), "2");
  EXPECT_EQ(run(id, "get - x"), "none") << "a named bucket is a prefix, not the default bucket";
  EXPECT_EQ(run(id, "list cache"), "x");
  EXPECT_EQ(run(id, "list -"), "a,cache/x") << "the default bucket is the whole space";
  // The same keys capsule:core storage sees, in the component's own space.
  EXPECT_EQ(stored("kv", "a"), "1");
  EXPECT_EQ(stored("kv", "cache/x"), "2");
  EXPECT_EQ(run(id, "del - a"), "ok");
  EXPECT_EQ(run(id, "del - a"), "ok") << "deleting an absent key does nothing";
  EXPECT_EQ(run(id, "get - a"), "none");
  EXPECT_EQ(stored("kv", "a"), "none");
  EXPECT_EQ(run(id, "open bad/name"), "error no-such-store");
  EXPECT_EQ(run(id, "open default"), "ok");
  expect_host_intact();
}

TEST_F(WasiKeyValue, ListKeysPagesThroughEveryKey) {
  const ComponentId id = kv("kv");
  // 1000 keys per page: 1001 keys take two pages, the second reached through the cursor. (The
  // default quota holds 1024 keys.)
  EXPECT_EQ(run(id, "fill many 1001 1"), "ok=1001");
  const std::string all = run(id, "list many");
  std::size_t keys = all.empty() ? 0 : 1;
  for (char c : all) keys += c == ',' ? 1 : 0;
  EXPECT_EQ(keys, 1001U) << all.substr(0, 200);
  EXPECT_NE(all.find("fill-1000"), std::string::npos);
  EXPECT_EQ(all.find("many/"), std::string::npos) << "keys come without the bucket prefix";
}

TEST_F(WasiKeyValue, IncrementIsAtomicAcrossInstancesAndStoredAsDigits) {
  component::ComponentSpec s;
  s.ns = "test";
  s.name = "counter";
  auto c = engine->load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / "wasi_kv.wasm");
  ASSERT_TRUE(c) << c.error().describe();
  s.component = *c;
  s.permissions = storage_grants();
  s.instances = 4;
  auto ids = runtime->start(s);
  ASSERT_TRUE(ids) << ids.error().describe();
  ASSERT_EQ(ids->size(), 4U);
  // Four instances share the component's space and increment the same key at once.
  constexpr int kPerInstance = 50;
  std::vector<std::future<Result<Payload>>> pending;
  for (int i = 0; i < kPerInstance; ++i) {
    for (const auto& id : *ids)
      pending.push_back(runtime->ask(id, Payload::text("incr - n 1"), 30s));
  }
  for (auto& p : pending) {
    auto r = p.get();
    ASSERT_TRUE(r) << r.error().describe();
  }
  EXPECT_EQ(run(ids->front(), "get - n"), std::to_string(4 * kPerInstance)) << "an update was lost";
  EXPECT_EQ(stored("counter", "n"), std::to_string(4 * kPerInstance));
  EXPECT_EQ(run(ids->front(), "incr - fresh 7"), "7") << "an absent key starts at 0";
  expect_canary_answers();
}

TEST_F(WasiKeyValue, IncrementOfTextOrPastTheTopIsAnErrorNotATrap) {
  const ComponentId id = kv("kv");
  EXPECT_EQ(run(id, "set - t abc"), "ok");
  const std::string text = run(id, "incr - t 1");
  EXPECT_EQ(text.rfind("error other invalid-argument: ", 0), 0U) << text;
  EXPECT_EQ(run(id, "set - top 18446744073709551615"), "ok");
  const std::string top = run(id, "incr - top 1");
  EXPECT_NE(top.find("overflows"), std::string::npos) << top;
  EXPECT_EQ(stored("kv", "top"), "18446744073709551615") << "a refused increment changes nothing";
  EXPECT_EQ(starts_of(id), 1U) << "no trap, no restart";
  expect_host_intact();
}

TEST_F(WasiKeyValue, OneComponentCannotSeeAnothersKeys) {
  const ComponentId a = kv("alice");
  const ComponentId b = kv("bob");
  EXPECT_EQ(run(a, "set - secret from-alice"), "ok");
  EXPECT_EQ(run(a, "set shared k from-alice"), "ok");
  EXPECT_EQ(run(b, "get - secret"), "none");
  EXPECT_EQ(run(b, "get shared k"), "none");
  EXPECT_EQ(run(b, "list -"), "");
  EXPECT_EQ(run(b, "exists - secret"), "false");
  EXPECT_EQ(run(b, "set - secret from-bob"), "ok");
  EXPECT_EQ(run(b, "del shared k"), "ok");
  EXPECT_EQ(run(a, "get - secret"), "from-alice");
  EXPECT_EQ(run(a, "get shared k"), "from-alice");
  EXPECT_EQ(run(a, "incr - secret 1").rfind("error other invalid-argument", 0), 0U);
  expect_canary_answers();
}

TEST_F(WasiKeyValue, CapabilityChecksApplyPerKey) {
  // Read and write only under public/: the rest of the space is out of reach through
  // wasi:keyvalue exactly as through capsule:core storage.
  const ComponentId id = kv("kv", grants({{Action::kStorageRead, "public/**", {}},
                                          {Action::kStorageWrite, "public/**", {}}}));
  EXPECT_EQ(run(id, "set public k v"), "ok");
  EXPECT_EQ(run(id, "get public k"), "v");
  EXPECT_EQ(run(id, "set - k v"), "error access-denied");
  EXPECT_EQ(run(id, "get private k"), "error access-denied");
  EXPECT_EQ(run(id, "incr private n 1"), "error access-denied");
  EXPECT_EQ(run(id, "del public k"), "error access-denied") << "no delete grant";
  EXPECT_EQ(stored("kv", "k"), "none");
  bool audited = false;
  for (const auto& r : audit->records()) audited = audited || r.target == "private/n";
  EXPECT_TRUE(audited) << "the denied increment is audited";
  expect_host_intact();
}

TEST_F(WasiKeyValue, QuotaRefusalIsAClearErrorAndChangesNothing) {
  const ComponentId id = kv("kv", storage_grants({.max_bytes = 4096, .max_keys = 100}));
  const std::string r = run(id, "fill - 100 1000");
  EXPECT_EQ(r.rfind("ok=4 error other quota-exceeded: storage quota of test/kv exceeded", 0), 0U)
      << r;
  auto used = store->usage("test/kv");
  ASSERT_TRUE(used);
  EXPECT_LE(used->bytes, 4096U);
  EXPECT_EQ(used->keys, 4U);
  EXPECT_EQ(stored("kv", "fill-4"), "none");
  // Increments count against the same quota.
  const std::string incr = run(id, "incr - " + std::string(80, 'k') + " 1");
  EXPECT_NE(incr.find("quota-exceeded"), std::string::npos) << incr;
  EXPECT_EQ(starts_of(id), 1U);
  expect_host_intact();
}

TEST_F(WasiKeyValue, OversizedValueIsRefusedBeforeItIsCopied) {
  auto id = start_component("kv", "wasi_kv", storage_grants(), {.max_payload_bytes = 512});
  ASSERT_TRUE(id) << id.error().describe();
  const std::string r = run(*id, "fill - 1 600");
  EXPECT_NE(r.find("invalid-argument"), std::string::npos) << r;
  EXPECT_EQ(stored("kv", "fill-0"), "none");
  expect_host_intact();
}

// Each open bucket is a host allocation that lives with the instance: a guest that opens them in
// a loop meets the per-instance handle limit (16,384) as a clear error, not host memory growth.
TEST_F(WasiKeyValue, BucketsHoardedInALoopMeetTheHandleLimit) {
  const ComponentId id = kv("hoarder");
  const std::string r = run(id, "hoard 100000");
  EXPECT_NE(r.find("quota-exceeded"), std::string::npos) << r;
  EXPECT_NE(r.find("16384"), std::string::npos) << r;
  // The handles it holds count against its own instance only: a bucket opened before the
  // limit stays usable, the host keeps serving, nothing restarted.
  long opened = 0;
  ASSERT_EQ(std::sscanf(r.c_str(), "opened %ld", &opened), 1) << r;
  EXPECT_GT(opened, 16000);
  EXPECT_LE(opened, 16384);
  EXPECT_EQ(starts_of(id), 1U);
  expect_host_intact();
}

// A backend that fails every call, as a lost disk or NATS connection would.
class BrokenKv final : public storage::KvBackend {
 public:
  Result<std::optional<storage::Bytes>> get(std::string_view, std::string_view) override {
    return broken();
  }
  Status set(std::string_view, std::string_view, const storage::Bytes&,
             const security::StorageQuota&) override {
    return broken();
  }
  Result<bool> erase(std::string_view, std::string_view) override { return broken(); }
  Result<bool> exists(std::string_view, std::string_view) override { return broken(); }
  Result<std::vector<std::string>> list_keys(std::string_view, std::string_view) override {
    return broken();
  }
  Result<storage::KvUsage> usage(std::string_view) override { return broken(); }
  Result<storage::Bytes> update_if(std::string_view, std::string_view, const Update&,
                                   const security::StorageQuota&, const WritePermit&) override {
    return broken();
  }

 private:
  static Error broken() { return Error{ErrorCode::kUnavailable, "disk on fire"}; }
};

class WasiKeyValueBrokenStorage : public WasiKeyValue {
  void customize(component::RuntimeConfig& config) override {
    config.storage = std::make_shared<BrokenKv>();
  }
};

TEST_F(WasiKeyValueBrokenStorage, StorageFailureIsAKeyValueErrorNotATrap) {
  const ComponentId id = kv("kv");
  for (const char* command :
       {"get - a", "set - a 1", "del - a", "exists - a", "list -", "incr - a 1"}) {
    EXPECT_EQ(run(id, command), "error other unavailable: disk on fire") << command;
  }
  EXPECT_EQ(starts_of(id), 1U) << "the guest got errors, not traps";
  expect_canary_answers();
}

}  // namespace
}  // namespace capsule::hostile
