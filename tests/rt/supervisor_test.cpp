#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "test_util.hpp"

namespace capsule::rt {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::Gate;

// Counts starts/handled messages per child id.
class Journal {
 public:
  void record_start(const std::string& id) { bump(starts_, id); }
  void record_handled(const std::string& id) { bump(handled_, id); }
  int starts(const std::string& id) const { return get(starts_, id); }
  int handled(const std::string& id) const { return get(handled_, id); }

 private:
  void bump(std::map<std::string, int>& m, const std::string& id) {
    std::lock_guard lock(mutex_);
    ++m[id];
  }
  int get(const std::map<std::string, int>& m, const std::string& id) const {
    std::lock_guard lock(mutex_);
    auto it = m.find(id);
    return it == m.end() ? 0 : it->second;
  }
  mutable std::mutex mutex_;
  std::map<std::string, int> starts_;
  std::map<std::string, int> handled_;
};

// "fail" fails (restart), "escalate" fails asking to escalate, "exit" stops normally,
// "degrade" makes health() report Degraded, "hold" parks on the gate, anything else is work.
class Child final : public Actor<std::string> {
 public:
  Child(std::string id, std::shared_ptr<Journal> journal, Gate* gate = nullptr)
      : id_(std::move(id)), journal_(std::move(journal)), gate_(gate) {}
  Status pre_start(ActorContext<std::string>& /*ctx*/) override {
    journal_->record_start(id_);
    return ok();
  }
  Status handle(std::string& msg, ActorContext<std::string>& ctx) override {
    if (msg == "fail" || msg == "escalate") return make_error(ErrorCode::kInternal, msg);
    if (msg == "exit") ctx.stop();
    if (msg == "degrade") degraded_ = true;
    if (msg == "hold" && gate_ != nullptr) gate_->wait();
    journal_->record_handled(id_);
    return ok();
  }
  ErrorAction on_error(const Error& error, ActorContext<std::string>& /*ctx*/) override {
    return error.message == "escalate" ? ErrorAction::kEscalate : ErrorAction::kRestart;
  }
  HealthStatus health() override {
    return degraded_ ? HealthStatus::kDegraded : HealthStatus::kHealthy;
  }

 private:
  std::string id_;
  std::shared_ptr<Journal> journal_;
  Gate* gate_;
  bool degraded_ = false;
};

ChildSpec child(const std::string& id, const std::shared_ptr<Journal>& journal,
                RestartPolicy policy = RestartPolicy::kPermanent, Gate* gate = nullptr) {
  return ChildSpec::of<Child>(id, SpawnOptions::named(id), id, journal, gate).with_restart(policy);
}

ActorRef<std::string> lookup(ActorSystem& system, const std::string& name) {
  auto ref = system.registry().lookup_as<std::string>(name);
  return ref ? *ref : ActorRef<std::string>{};
}

struct Harness {
  std::shared_ptr<InMemoryRecorder> recorder = std::make_shared<InMemoryRecorder>();
  std::shared_ptr<Journal> journal = std::make_shared<Journal>();
  ActorSystem system{SystemConfig{{}, recorder, 5000ms}};
};

// ---- every strategy x restart policy x exit kind -------------------------------------------

using Combo = std::tuple<RestartStrategy, RestartPolicy, bool /*failure*/>;

class StrategyMatrix : public ::testing::TestWithParam<Combo> {};

TEST_P(StrategyMatrix, RestartsExactlyTheRightChildren) {
  const auto [strategy, policy, failure] = GetParam();
  Harness h;
  SupervisorConfig config;
  config.strategy = strategy;
  config.backoff = BackoffPolicy::none();
  auto sup = SupervisorNode::start(h.system, config,
                                   {child("a", h.journal, policy), child("b", h.journal, policy),
                                    child("c", h.journal, policy)});
  ASSERT_TRUE(sup);
  const auto b_before = lookup(h.system, "b");
  ASSERT_TRUE(b_before);
  b_before.tell(failure ? "fail" : "exit");

  const bool restart =
      policy == RestartPolicy::kPermanent || (policy == RestartPolicy::kTransient && failure);
  std::map<std::string, int> expected{{"a", 1}, {"b", 1}, {"c", 1}};
  if (restart) {
    expected["b"] = 2;
    if (strategy == RestartStrategy::kOneForAll) expected["a"] = expected["c"] = 2;
    if (strategy == RestartStrategy::kRestForOne) expected["c"] = 2;
    std::size_t restarted = 0;
    for (const auto& [id, n] : expected) restarted += n == 2 ? 1 : 0;
    ASSERT_TRUE(h.recorder->wait_for_count(EventKind::kChildRestarted, restarted, 10000ms));
    for (const auto& [id, n] : expected) {
      EXPECT_TRUE(eventually([&] { return h.journal->starts(id) == n; })) << id;
    }
    EXPECT_EQ(h.recorder->count(EventKind::kChildRestarted), restarted);
    // Restart in place: same address, still reachable by name, and it works.
    auto b_after = lookup(h.system, "b");
    EXPECT_EQ(b_after.id(), b_before.id());
    b_after.tell("work");
    EXPECT_TRUE(eventually([&] { return h.journal->handled("b") >= 1; }));
  } else {
    EXPECT_TRUE(eventually([&] { return !b_before.alive(); }));
    auto children = sup->children();
    ASSERT_TRUE(children);
    EXPECT_EQ(children->size(), 2U);
    EXPECT_EQ(h.recorder->count(EventKind::kChildRestarted), 0U);
    for (const auto& id : {"a", "c"}) EXPECT_EQ(h.journal->starts(id), 1) << id;
  }
}

std::string combo_name(const ::testing::TestParamInfo<Combo>& info) {
  static const char* strategies[] = {"OneForOne", "OneForAll", "RestForOne"};
  static const char* policies[] = {"Permanent", "Transient", "Temporary"};
  return std::string(strategies[static_cast<int>(std::get<0>(info.param))]) +
         policies[static_cast<int>(std::get<1>(info.param))] +
         (std::get<2>(info.param) ? "Failure" : "NormalExit");
}

INSTANTIATE_TEST_SUITE_P(
    AllCombinations, StrategyMatrix,
    ::testing::Combine(::testing::Values(RestartStrategy::kOneForOne, RestartStrategy::kOneForAll,
                                         RestartStrategy::kRestForOne),
                       ::testing::Values(RestartPolicy::kPermanent, RestartPolicy::kTransient,
                                         RestartPolicy::kTemporary),
                       ::testing::Bool()),
    combo_name);

// ---- intensity, escalation, backoff -------------------------------------------------------------

TEST(Supervisor, RestartStormHitsTheIntensityLimit) {
  Harness h;
  SupervisorConfig config;
  config.max_restarts = 3;
  config.window = 60000ms;
  config.backoff = BackoffPolicy::none();
  auto sup = SupervisorNode::start(h.system, config, {child("w", h.journal)});
  ASSERT_TRUE(sup);
  auto w = lookup(h.system, "w");
  for (int i = 0; i < 10; ++i) w.tell("fail");
  ASSERT_TRUE(h.recorder->wait_for_count(EventKind::kRestartLimitExceeded, 1, 10000ms));
  // A root supervisor that gives up stops, and its children with it.
  EXPECT_TRUE(eventually([&] { return !sup->ref().alive() && !w.alive(); }));
  EXPECT_EQ(h.recorder->count(EventKind::kChildRestarted), 3U);
  EXPECT_EQ(h.journal->starts("w"), 4);
}

TEST(Supervisor, NestedSupervisorEscalatesToItsParent) {
  Harness h;
  SupervisorConfig inner;
  inner.max_restarts = 1;
  inner.backoff = BackoffPolicy::none();
  SupervisorConfig outer;
  outer.max_restarts = 5;
  outer.backoff = BackoffPolicy::none();
  auto root =
      SupervisorNode::start(h.system, outer,
                            {ChildSpec::supervisor("inner", inner, {child("leaf", h.journal)},
                                                   SpawnOptions::named("inner"))});
  ASSERT_TRUE(root);
  const auto inner_before = h.system.registry().lookup("inner");
  ASSERT_TRUE(inner_before);
  auto leaf = lookup(h.system, "leaf");
  leaf.tell("fail");
  ASSERT_TRUE(eventually([&] { return h.journal->starts("leaf") == 2; }));
  leaf.tell("fail");  // second restart within the window: inner gives up
  ASSERT_TRUE(h.recorder->wait_for_count(EventKind::kRestartLimitExceeded, 1, 10000ms));
  // The outer supervisor restarts the inner one in place; it starts a fresh leaf.
  ASSERT_TRUE(eventually([&] { return h.journal->starts("leaf") == 3; }));
  auto inner_after = h.system.registry().lookup("inner");
  ASSERT_TRUE(inner_after);
  EXPECT_EQ(inner_after->id(), inner_before->id());
  EXPECT_TRUE(inner_after->alive());
  ASSERT_TRUE(eventually([&] { return lookup(h.system, "leaf").valid(); }));
  auto new_leaf = lookup(h.system, "leaf");
  EXPECT_NE(new_leaf.id(), leaf.id());
  EXPECT_TRUE(eventually([&] { return !leaf.alive(); }));
  new_leaf.tell("work");
  EXPECT_TRUE(eventually([&] { return h.journal->handled("leaf") >= 1; }));
  EXPECT_TRUE(root->ref().alive());
}

TEST(Supervisor, EscalateActionFailsTheSupervisor) {
  Harness h;
  SupervisorConfig config;
  config.backoff = BackoffPolicy::none();
  auto sup = SupervisorNode::start(h.system, config, {child("w", h.journal)});
  ASSERT_TRUE(sup);
  lookup(h.system, "w").tell("escalate");
  EXPECT_TRUE(eventually([&] { return !sup->ref().alive(); }));
  EXPECT_EQ(h.recorder->count(EventKind::kChildRestarted), 0U);
}

TEST(Supervisor, BackoffDelaysRestartsExponentially) {
  Harness h;
  SupervisorConfig config;
  config.max_restarts = 10;
  config.backoff = BackoffPolicy{20ms, 1000ms, 2.0, 0.0};
  auto sup = SupervisorNode::start(h.system, config, {child("w", h.journal)});
  ASSERT_TRUE(sup);
  auto w = lookup(h.system, "w");
  const auto t0 = std::chrono::steady_clock::now();
  w.tell("fail");
  // Sent while the child waits for its restart: kept in the mailbox, handled afterwards.
  w.tell("queued");
  ASSERT_TRUE(eventually([&] { return h.journal->handled("w") == 1; }));
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_GE(t1 - t0, 20ms);  // lower bounds only: timers never fire early
  w.tell("fail");
  w.tell("queued");
  ASSERT_TRUE(eventually([&] { return h.journal->handled("w") == 2; }));
  EXPECT_GE(std::chrono::steady_clock::now() - t1, 40ms);
  EXPECT_EQ(h.journal->starts("w"), 3);
}

TEST(Supervisor, HealthCheckRestartsADegradedChild) {
  Harness h;
  SupervisorConfig config;
  config.health_interval = 5ms;
  config.backoff = BackoffPolicy::none();
  auto sup = SupervisorNode::start(h.system, config, {child("w", h.journal).with_health_checks()});
  ASSERT_TRUE(sup);
  lookup(h.system, "w").tell("degrade");
  ASSERT_TRUE(h.recorder->wait_for_count(EventKind::kHealthCheckFailed, 1, 10000ms));
  EXPECT_TRUE(eventually([&] { return h.journal->starts("w") == 2; }));
  EXPECT_GE(h.recorder->count(EventKind::kChildRestarted), 1U);
}

// ---- shutdown policies ---------------------------------------------------------------------

TEST(Supervisor, GracefulShutdownDrainsTheMailbox) {
  Harness h;
  Gate gate;
  auto sup = SupervisorNode::start(h.system, {},
                                   {child("w", h.journal, RestartPolicy::kPermanent, &gate)
                                        .with_shutdown(ShutdownPolicy::graceful(10000ms))});
  ASSERT_TRUE(sup);
  auto w = lookup(h.system, "w");
  w.tell("hold");
  ASSERT_TRUE(eventually([&] { return gate.entered(); }));
  for (int i = 0; i < 5; ++i) w.tell("work");
  ASSERT_TRUE(sup->terminate_child("w"));
  ASSERT_TRUE(eventually([&] { return !h.system.registry().lookup("w"); }));
  gate.open();
  EXPECT_TRUE(eventually([&] { return !w.alive(); }));
  EXPECT_EQ(h.journal->handled("w"), 6);
  EXPECT_EQ(h.system.dead_letter_count(), 0U);
}

TEST(Supervisor, ImmediateShutdownDropsQueuedMessagesAsDeadLetters) {
  Harness h;
  Gate gate;
  auto sup = SupervisorNode::start(h.system, {},
                                   {child("w", h.journal, RestartPolicy::kPermanent, &gate)
                                        .with_shutdown(ShutdownPolicy::immediate())});
  ASSERT_TRUE(sup);
  auto w = lookup(h.system, "w");
  w.tell("hold");
  ASSERT_TRUE(eventually([&] { return gate.entered(); }));
  for (int i = 0; i < 5; ++i) w.tell("work");
  ASSERT_TRUE(sup->terminate_child("w"));
  ASSERT_TRUE(eventually([&] { return !h.system.registry().lookup("w"); }));
  gate.open();
  EXPECT_TRUE(eventually([&] { return !w.alive(); }));
  EXPECT_EQ(h.journal->handled("w"), 1);
  // alive() turns false before the mailbox is swept: the count follows right after.
  EXPECT_TRUE(eventually([&] { return h.system.dead_letter_count() == 5U; }));
}

TEST(Supervisor, GracefulShutdownTimesOutIntoAKill) {
  Harness h;
  Gate gate;
  auto sup = SupervisorNode::start(h.system, {},
                                   {child("w", h.journal, RestartPolicy::kPermanent, &gate)
                                        .with_shutdown(ShutdownPolicy::graceful(10ms))});
  ASSERT_TRUE(sup);
  auto w = lookup(h.system, "w");
  w.tell("hold");
  ASSERT_TRUE(eventually([&] { return gate.entered(); }));
  for (int i = 0; i < 5; ++i) w.tell("hold");  // each would park again
  ASSERT_TRUE(sup->terminate_child("w"));
  // The supervisor unbinds the name when it sends the stop and arms the 10 ms kill timer.
  ASSERT_TRUE(eventually([&] { return !h.system.registry().lookup("w"); }));
  std::this_thread::sleep_for(200ms);  // the kill lands while the child is still busy
  gate.open();
  EXPECT_TRUE(eventually([&] { return !w.alive(); }));
  EXPECT_TRUE(eventually([&] { return h.system.dead_letter_count() >= 1U; }));
}

TEST(Supervisor, ChildrenStartInOrderAndCanBeAddedLater) {
  Harness h;
  auto sup = SupervisorNode::start(h.system, {}, {child("a", h.journal)});
  ASSERT_TRUE(sup);
  std::atomic<bool> added{false};
  ASSERT_TRUE(sup->start_child(child("b", h.journal),
                               [&](Result<ActorAddress> r) { added.store(r.has_value()); }));
  ASSERT_TRUE(eventually([&] { return added.load(); }));
  auto children = sup->children();
  ASSERT_TRUE(children);
  ASSERT_EQ(children->size(), 2U);
  EXPECT_EQ((*children)[0].id, "a");
  EXPECT_EQ((*children)[1].id, "b");
  std::atomic<int> duplicate{-1};
  ASSERT_TRUE(sup->start_child(child("a", h.journal), [&](Result<ActorAddress> r) {
    duplicate.store(r ? 0 : static_cast<int>(r.error().code));
  }));
  ASSERT_TRUE(eventually([&] { return duplicate.load() >= 0; }));
  EXPECT_EQ(duplicate.load(), static_cast<int>(ErrorCode::kAlreadyExists));
}

}  // namespace
}  // namespace capsule::rt
