// Storage calls from guests run on the runtime's I/O threads, never on a scheduler worker: the
// guest's call suspends until the answer is there. Real SQLite behind an observing KvBackend
// (it only records which thread called, then forwards), real pump and probe guests.
#include <atomic>

#include <capsule/rt/scheduler.hpp>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;

class ThreadObservingKv final : public storage::KvBackend {
 public:
  explicit ThreadObservingKv(std::shared_ptr<storage::KvBackend> inner)
      : inner_(std::move(inner)) {}

  Result<std::optional<storage::Bytes>> get(std::string_view s, std::string_view k) override {
    note();
    return inner_->get(s, k);
  }
  Status set(std::string_view s, std::string_view k, const storage::Bytes& v,
             const security::StorageQuota& q) override {
    note();
    return inner_->set(s, k, v, q);
  }
  Result<bool> erase(std::string_view s, std::string_view k) override {
    note();
    return inner_->erase(s, k);
  }
  Result<bool> exists(std::string_view s, std::string_view k) override {
    note();
    return inner_->exists(s, k);
  }
  Result<std::vector<std::string>> list_keys(std::string_view s, std::string_view p) override {
    note();
    return inner_->list_keys(s, p);
  }
  Result<storage::KvUsage> usage(std::string_view s) override {
    note();
    return inner_->usage(s);
  }

  std::atomic<int> calls{0};
  std::atomic<int> on_worker{0};

 private:
  void note() {
    calls.fetch_add(1);
    if (rt::Scheduler::on_worker_thread()) on_worker.fetch_add(1);
  }
  std::shared_ptr<storage::KvBackend> inner_;
};

class StorageIo : public RuntimeFixture {
 protected:
  StorageIo() {
    kv = std::make_shared<ThreadObservingKv>(open_sqlite_store());
    RuntimeConfig config;
    config.storage = kv;
    reconfigure(config);
  }

  std::shared_ptr<ThreadObservingKv> kv;
};

TEST_F(StorageIo, GuestStorageCallsNeverRunOnAWorker) {
  const auto pump = start(spec("pump", "pump"))[0];
  auto r = ask(pump, "set 256 50");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "ok 50");
  const auto probe = start(spec("probe", "probe"))[0];
  auto p = ask(probe, "hello");  // storage.set then storage.get of "last", among other calls
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_NE(p->as_string().find("set=ok"), std::string::npos) << p->as_string();
  EXPECT_NE(p->as_string().find("get=5"), std::string::npos) << p->as_string();
  EXPECT_GE(kv->calls.load(), 52);
  EXPECT_EQ(kv->on_worker.load(), 0) << "storage ran on a scheduler worker";
}

}  // namespace
}  // namespace capsule::component
