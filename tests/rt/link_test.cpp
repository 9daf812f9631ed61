// Links (ActorContext::link): Erlang's exit-signal semantics on the runtime's system lane.
#include <atomic>
#include <cstdint>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <variant>

#include <capsule/rt/rt.hpp>

#include "test_util.hpp"

namespace capsule::rt {
namespace {

using testing::Collected;
using testing::eventually;

enum class Cmd : std::uint8_t { kFail, kStop, kAwait, kNoop };
struct LinkTo {
  ActorAddress target;
};
struct UnlinkFrom {
  ActorAddress target;
};
struct Watch {
  ActorAddress target;
};
using PeerMsg = std::variant<Cmd, LinkTo, UnlinkFrom, Watch>;

// What a Peer saw, shared across its incarnations.
struct Probe {
  std::atomic<int> starts{0};
  std::atomic<int> handled{0};
  Collected<Signal> signals;
  [[nodiscard]] int exits() const {
    int n = 0;
    for (const auto& s : signals.items()) n += s.kind == Signal::Kind::kExit ? 1 : 0;
    return n;
  }
};

// An actor driven by its messages: links, unlinks, fails, stops or waits (await_resume, never
// resumed) when told. `link_at_start` is linked in every pre_start, as the component layer does.
class Peer final : public Actor<PeerMsg> {
 public:
  Peer(std::shared_ptr<Probe> probe, bool trap, ActorAddress link_at_start)
      : probe_(std::move(probe)), trap_(trap), link_at_start_(std::move(link_at_start)) {}
  Status pre_start(ActorContext<PeerMsg>& ctx) override {
    probe_->starts.fetch_add(1);
    ctx.trap_exits(trap_);
    if (link_at_start_) ctx.link(link_at_start_);
    return ok();
  }
  Status handle(PeerMsg& msg, ActorContext<PeerMsg>& ctx) override {
    probe_->handled.fetch_add(1);
    if (auto* l = std::get_if<LinkTo>(&msg)) {
      ctx.link(l->target);
    } else if (auto* u = std::get_if<UnlinkFrom>(&msg)) {
      ctx.unlink(u->target);
    } else if (auto* w = std::get_if<Watch>(&msg)) {
      ctx.watch(w->target);
    } else {
      switch (std::get<Cmd>(msg)) {
        case Cmd::kFail:
          return make_error(ErrorCode::kInternal, "told to fail");
        case Cmd::kStop:
          ctx.stop();
          break;
        case Cmd::kAwait:
          ctx.await_resume();  // a handler waiting on something outside (a suspended guest call)
          break;
        case Cmd::kNoop:
          break;
      }
    }
    return ok();
  }
  Status on_signal(const Signal& signal, ActorContext<PeerMsg>& /*ctx*/) override {
    probe_->signals.push_back(signal);
    return ok();
  }

 private:
  std::shared_ptr<Probe> probe_;
  bool trap_;
  ActorAddress link_at_start_;
};

struct Spawned {
  std::shared_ptr<Probe> probe = std::make_shared<Probe>();
  ActorRef<PeerMsg> ref;
};

Spawned spawn_peer(ActorSystem& system, bool trap = false, ActorAddress link_at_start = {},
                   MailboxConfig mailbox = {}) {
  Spawned s;
  auto ref = system.spawn<Peer>(SpawnOptions{}.with_mailbox(mailbox), s.probe, trap,
                                std::move(link_at_start));
  EXPECT_TRUE(ref);
  s.ref = *ref;
  return s;
}

// Links the two and waits until both ends hold it (the link travels a's, then b's system lane).
void link_both(ActorSystem& system, Spawned& a, const Spawned& b) {
  const auto before = system.link_entries();
  ASSERT_TRUE(a.ref.send(LinkTo{b.ref.address()}));
  ASSERT_TRUE(eventually([&] { return system.link_entries() == before + 2; }));
}

// The failing-first case: the peer's mailbox is full (its bound refuses more) and its handler is
// waiting for a resume that never comes; the exit signal still reaches it and ends the wait.
TEST(Link, AnAbnormalExitFailsTheLinkedActorThroughAFullMailboxAndAWaitingHandler) {
  ActorSystem system;
  auto a = spawn_peer(system);
  auto b = spawn_peer(system, false, {}, MailboxConfig::bounded(2, BackpressurePolicy::kError));
  link_both(system, a, b);
  ASSERT_TRUE(b.ref.send(Cmd::kAwait));
  ASSERT_TRUE(eventually([&] { return b.probe->handled.load() == 1; }));
  ASSERT_TRUE(b.ref.send(Cmd::kNoop));
  ASSERT_TRUE(b.ref.send(Cmd::kNoop));
  auto refused = b.ref.send(Cmd::kNoop);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kMailboxFull);

  ASSERT_TRUE(a.ref.send(Cmd::kFail));
  EXPECT_TRUE(eventually([&] { return b.probe->starts.load() == 2; }))
      << "b failed with a and, unsupervised, was restarted in place";
  // The restart ended the wait; the queued messages were kept for the new incarnation.
  EXPECT_TRUE(eventually([&] { return b.probe->handled.load() == 3; }));
  EXPECT_EQ(system.link_entries(), 0);
}

TEST(Link, ANormalExitRemovesTheLinkAndLeavesThePeerRunning) {
  ActorSystem system;
  auto a = spawn_peer(system);
  auto b = spawn_peer(system);
  link_both(system, a, b);
  ASSERT_TRUE(a.ref.send(Cmd::kStop));
  ASSERT_TRUE(eventually([&] { return !a.ref.alive(); }));
  EXPECT_TRUE(eventually([&] { return system.link_entries() == 0; }));
  ASSERT_TRUE(b.ref.send(Cmd::kNoop));
  EXPECT_TRUE(eventually([&] { return b.probe->handled.load() == 1; }));
  EXPECT_EQ(b.probe->starts.load(), 1) << "kNormal does not travel to an actor not trapping exits";
}

TEST(Link, AShutdownOrKillIsAbnormalAsInOtp) {
  ActorSystem system;
  auto a = spawn_peer(system);
  auto b = spawn_peer(system);
  auto c = spawn_peer(system);
  auto d = spawn_peer(system);
  link_both(system, a, b);
  link_both(system, c, d);
  system.stop(a.ref.address(), StopMode::kImmediate);  // kKilled
  EXPECT_TRUE(eventually([&] { return b.probe->starts.load() == 2; }));
  system.kill(c.ref.address());
  EXPECT_TRUE(eventually([&] { return d.probe->starts.load() == 2; }));
}

TEST(Link, TrappingExitsTurnsEveryExitIntoASignal) {
  ActorSystem system;
  auto a = spawn_peer(system);
  auto b = spawn_peer(system, /*trap=*/true);
  auto c = spawn_peer(system);
  link_both(system, a, b);
  link_both(system, c, b);
  ASSERT_TRUE(a.ref.send(Cmd::kFail));
  ASSERT_TRUE(eventually([&] { return b.probe->exits() == 1; }));
  ASSERT_TRUE(c.ref.send(Cmd::kStop));
  ASSERT_TRUE(eventually([&] { return b.probe->exits() == 2; }));
  const auto seen = b.probe->signals.items();
  EXPECT_EQ(seen[0].from, a.ref.address());
  EXPECT_EQ(seen[0].reason, ExitReason::kFailed);
  ASSERT_TRUE(seen[0].error);
  EXPECT_NE(seen[0].error->message.find("told to fail"), std::string::npos);
  EXPECT_EQ(seen[1].from, c.ref.address());
  EXPECT_EQ(seen[1].reason, ExitReason::kNormal);
  EXPECT_EQ(b.probe->starts.load(), 1);
  EXPECT_EQ(a.probe->starts.load(), 2) << "a restarted in place, b did not";
}

TEST(Link, LinkingToADeadActorGivesNoProcAtOnce) {
  ActorSystem system;
  auto dead = spawn_peer(system);
  system.stop(dead.ref.address());
  ASSERT_TRUE(eventually([&] { return !dead.ref.alive(); }));

  auto trapping = spawn_peer(system, /*trap=*/true);
  ASSERT_TRUE(trapping.ref.send(LinkTo{dead.ref.address()}));
  ASSERT_TRUE(eventually([&] { return trapping.probe->exits() == 1; }));
  EXPECT_EQ(trapping.probe->signals[0].reason, ExitReason::kNoProc);
  EXPECT_EQ(trapping.probe->signals[0].from, dead.ref.address());

  auto plain = spawn_peer(system);
  ASSERT_TRUE(plain.ref.send(LinkTo{dead.ref.address()}));
  EXPECT_TRUE(eventually([&] { return plain.probe->starts.load() == 2; }))
      << "not trapping: noproc is abnormal, the linker fails";
  EXPECT_TRUE(eventually([&] { return system.link_entries() == 0; }));

  // From outside an actor, too; and a terminated linker is refused.
  auto outside = spawn_peer(system, /*trap=*/true);
  ASSERT_TRUE(system.link(outside.ref.address(), dead.ref.address()));
  EXPECT_TRUE(eventually([&] { return outside.probe->exits() == 1; }));
  auto refused = system.link(dead.ref.address(), outside.ref.address());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kNotFound);
}

TEST(Link, LinkingInPreStartOrWatchingADeadActorGivesNoProc) {
  ActorSystem system;
  auto dead = spawn_peer(system);
  system.stop(dead.ref.address());
  ASSERT_TRUE(eventually([&] { return !dead.ref.alive(); }));
  auto starter = spawn_peer(system, /*trap=*/true, dead.ref.address());
  ASSERT_TRUE(eventually([&] { return starter.probe->exits() == 1; }));
  EXPECT_EQ(starter.probe->signals[0].reason, ExitReason::kNoProc);
  ASSERT_TRUE(starter.ref.send(Watch{dead.ref.address()}));
  ASSERT_TRUE(eventually([&] { return starter.probe->signals.size() == 2; }));
  EXPECT_EQ(starter.probe->signals[1].kind, Signal::Kind::kDown);
  EXPECT_EQ(starter.probe->signals[1].reason, ExitReason::kNoProc);
}

TEST(Link, AnUnlinkedPeerHearsNothing) {
  ActorSystem system;
  auto a = spawn_peer(system);
  auto b = spawn_peer(system);
  link_both(system, a, b);
  ASSERT_TRUE(b.ref.send(UnlinkFrom{a.ref.address()}));
  ASSERT_TRUE(eventually([&] { return system.link_entries() == 0; }));
  ASSERT_TRUE(a.ref.send(Cmd::kFail));
  ASSERT_TRUE(eventually([&] { return a.probe->starts.load() == 2; }));
  ASSERT_TRUE(b.ref.send(Cmd::kNoop));
  ASSERT_TRUE(eventually([&] { return b.probe->handled.load() == 2; }));
  EXPECT_EQ(b.probe->starts.load(), 1);
}

// Links belong to an incarnation: a restart in place (same cell, same address) starts with none,
// so one made in a handler does not outlive the incarnation that made it, and relinking in
// every pre_start holds exactly one link however often the actor restarts.
TEST(Link, RestartsDoNotLeakLinks) {
  ActorSystem system;
  auto b = spawn_peer(system, /*trap=*/true);
  auto a = spawn_peer(system);
  link_both(system, a, b);
  ASSERT_TRUE(a.ref.send(Cmd::kFail));
  ASSERT_TRUE(eventually([&] { return a.probe->starts.load() == 2 && b.probe->exits() == 1; }));
  EXPECT_TRUE(eventually([&] { return system.link_entries() == 0; }));
  ASSERT_TRUE(a.ref.send(Cmd::kFail));  // the new incarnation made no link: b hears nothing
  ASSERT_TRUE(eventually([&] { return a.probe->starts.load() == 3; }));
  ASSERT_TRUE(b.ref.send(Cmd::kNoop));
  ASSERT_TRUE(eventually([&] { return b.probe->handled.load() == 1; }));
  EXPECT_EQ(b.probe->exits(), 1);

  auto c = spawn_peer(system, false, b.ref.address());  // links in every pre_start
  ASSERT_TRUE(eventually([&] { return system.link_entries() == 2; }));
  constexpr int kRestarts = 5;
  for (int i = 1; i <= kRestarts; ++i) {
    ASSERT_TRUE(c.ref.send(Cmd::kFail));
    ASSERT_TRUE(eventually([&] { return b.probe->exits() == 1 + i; }));
    ASSERT_TRUE(eventually([&] { return c.probe->starts.load() == 1 + i; }));
    EXPECT_TRUE(eventually([&] { return system.link_entries() == 2; }))
        << "one link, not one per incarnation";
  }
}

// A link-induced failure is a failure like any other for the supervisor: it restarts the child.
TEST(Link, ASupervisedPeerIsRestartedByItsSupervisor) {
  auto recorder = std::make_shared<InMemoryRecorder>();
  SystemConfig config;
  config.observer = recorder;
  ActorSystem system(config);
  auto probe = std::make_shared<Probe>();
  SupervisorConfig cfg{RestartStrategy::kOneForOne, 5, std::chrono::seconds(5),
                       BackoffPolicy::none(), std::chrono::milliseconds(0)};
  auto sup = SupervisorNode::start(
      system, cfg,
      {ChildSpec::of<Peer>("b", SpawnOptions::named("b"), probe, false, ActorAddress{})});
  ASSERT_TRUE(sup);
  auto b = system.registry().lookup("b");
  ASSERT_TRUE(b);
  auto a = spawn_peer(system);
  ASSERT_TRUE(a.ref.send(LinkTo{*b}));
  ASSERT_TRUE(eventually([&] { return system.link_entries() == 2; }));
  ASSERT_TRUE(a.ref.send(Cmd::kFail));
  EXPECT_TRUE(eventually([&] { return probe->starts.load() == 2; }));
  EXPECT_TRUE(recorder->wait_for_count(EventKind::kChildRestarted, 1, std::chrono::seconds(10)));
  bool named = false;
  for (const auto& e : recorder->events()) {
    named = named || (e.kind == EventKind::kActorFailed && e.name == "b" && e.error &&
                      e.error->message.find("linked actor") != std::string::npos);
  }
  EXPECT_TRUE(named) << "b's failure names the link it came through";
}

}  // namespace
}  // namespace capsule::rt
