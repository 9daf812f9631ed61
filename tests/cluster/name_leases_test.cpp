// Name claims on a real nats-server with JetStream (docs/cluster.md, "Name claims"): one host at a
// time may activate a name of an on-demand component, whatever the hosts' views of the cluster.
#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <capsule/cluster/name_leases.hpp>

#include "nats_server.hpp"

namespace capsule::cluster {
namespace {

using namespace std::chrono_literals;
using testing::NatsServer;

constexpr auto kDuration = 400ms;
const ComponentId kAlice{"shop", "cart", "alice"};
const ComponentId kBob{"shop", "cart", "bob"};

class NameLeasesTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server.running()); }

  // A host's claims, started: it holds its lease when this returns (the lease was free).
  std::shared_ptr<NameLeases> host(const std::string& name, bool start = true) {
    LeaseConfig c;
    c.url = server.url();
    c.bucket = "names_test";
    c.host = name;
    c.duration = kDuration;
    auto h = NameLeases::connect(c);
    EXPECT_TRUE(h) << h.error().describe();
    if (!h) return nullptr;
    if (start) {
      (*h)->start([this, name] { lost.push_back(name); }, [] { return true; });
    }
    return *h;
  }

  // The claim's fencing token, or why not.
  static Result<std::uint64_t> token(NameLeases& h, const ComponentId& id) {
    std::promise<Result<std::uint64_t>> answer;
    h.claim(id, [&answer](Result<std::uint64_t> t) { answer.set_value(std::move(t)); });
    return answer.get_future().get();
  }

  static Status claim(NameLeases& h, const ComponentId& id) {
    auto t = token(h, id);
    if (!t) return std::move(t).error();
    EXPECT_GT(*t, 0U) << "a claim's token is never 0";
    return ok();
  }

  // Releases run in order on the claims thread: a claim queued after one has seen it done.
  static void release(NameLeases& h, const ComponentId& id) {
    h.release(id);
    static_cast<void>(claim(h, ComponentId{"sync", "barrier", "x"}));
  }

  NatsServer server{NatsServer::Mode::kJetStream};
  std::vector<std::string> lost;
};

TEST_F(NameLeasesTest, ANameIsClaimedByOneHostAndRefusedToTheOtherNamingTheHolder) {
  auto a = host("a");
  auto b = host("b");
  ASSERT_TRUE(a->holding());
  ASSERT_TRUE(b->holding());
  EXPECT_TRUE(claim(*a, kAlice)) << "the first claim";
  EXPECT_TRUE(claim(*a, kAlice)) << "claiming its own claim again";
  // b's view of the cluster may say b owns alice: the claim says no, for as long as a holds its
  // lease (a renews it here all along).
  for (int i = 0; i < 5; ++i) {
    Status s = claim(*b, kAlice);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(s.error().message.find("shop/cart/alice is active on host a"), std::string::npos)
        << s.error().message;
    std::this_thread::sleep_for(kDuration / 2);
  }
  EXPECT_TRUE(claim(*b, kBob)) << "another name is free";
  EXPECT_EQ(b->stats().refusals, 5U);
  // a releases alice (its activation retired): b claims it at once.
  release(*a, kAlice);
  EXPECT_TRUE(claim(*b, kAlice));
  EXPECT_FALSE(claim(*a, kAlice)) << "now b's";
  EXPECT_TRUE(lost.empty());
}

// A real freeze: host x runs in a child process, claims alice, and is SIGSTOPped (as a paused VM
// or a long stall would stop it). Host b is refused until x's lease has stood still for a whole
// duration on b's clock, then takes alice over. x, woken, finds at its next renewal that its
// lease is gone: it says so (its `lost` runs) and its window stays closed.
TEST_F(NameLeasesTest, AFrozenHostIsFencedAndItsNameTakenOverOnlyAfterItsLeaseLapses) {
  int to_parent[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(to_parent[0]);
    const int out = to_parent[1];
    auto say = [out](char c) { static_cast<void>(::write(out, &c, 1)); };
    LeaseConfig c;
    c.url = server.url();
    c.bucket = "names_test";
    c.host = "x";
    c.duration = kDuration;
    auto x = NameLeases::connect(c);
    if (!x) ::_exit(2);
    std::atomic<bool> window_closed_when_lost{false};
    (*x)->start(
        [&] {
          window_closed_when_lost = !(*x)->window()->is_open();
          say(window_closed_when_lost ? 'L' : 'W');
        },
        [] { return false; });  // never idle: it does not take a new lease, the window stays shut
    std::promise<bool> answer;
    (*x)->claim(kAlice,
                [&answer](const Result<std::uint64_t>& t) { answer.set_value(t.has_value()); });
    say(answer.get_future().get() ? 'C' : 'F');
    for (;;) ::pause();
  }
  ::close(to_parent[1]);
  auto hear = [&] {
    char c = 0;
    return ::read(to_parent[0], &c, 1) == 1 ? c : '?';
  };
  ASSERT_EQ(hear(), 'C') << "x claimed alice";
  auto b = host("b");
  EXPECT_FALSE(claim(*b, kAlice)) << "x is alive";
  ASSERT_EQ(::kill(child, SIGSTOP), 0);
  const auto frozen = std::chrono::steady_clock::now();
  // Refused for at least a duration after b first saw x's lease stand still (its first look
  // comes after the freeze), then taken over.
  Status s = claim(*b, kAlice);
  while (!s && std::chrono::steady_clock::now() - frozen < kDuration * 6) {
    EXPECT_NE(s.error().message.find("active on host x"), std::string::npos) << s.error().message;
    std::this_thread::sleep_for(20ms);
    s = claim(*b, kAlice);
  }
  const auto taken = std::chrono::steady_clock::now() - frozen;
  ASSERT_TRUE(s) << s.error().describe();
  // x renewed at most a quarter duration before the freeze, and b waits a whole duration after
  // the last renewal it saw: never before x's window (3/4 of a duration) closed.
  EXPECT_GE(taken, kDuration * 3 / 4) << "taken over before x's lease could have lapsed";
  EXPECT_EQ(b->stats().takeovers, 1U);
  ASSERT_EQ(::kill(child, SIGCONT), 0);
  EXPECT_EQ(hear(), 'L') << "x learnt that its lease was taken, with its window closed";
  EXPECT_TRUE(claim(*b, kAlice)) << "still b's";
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(to_parent[0]);
}

// The claim's revision is its fencing token (docs/cluster.md, "Name claims"): the same for a
// host that claims its own claim again, and greater for every later claim of the name, by
// whichever host, so a name's storage fence only ever moves forward.
TEST_F(NameLeasesTest, EachNewClaimOfANameHasAGreaterToken) {
  auto a = host("a");
  auto b = host("b");
  auto first = token(*a, kAlice);
  ASSERT_TRUE(first) << first.error().describe();
  auto again = token(*a, kAlice);
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(*again, *first) << "claiming its own claim again keeps its token";
  ASSERT_TRUE(token(*a, kBob));
  EXPECT_FALSE(token(*b, kAlice)) << "a holds it";
  release(*a, kAlice);
  auto taken = token(*b, kAlice);
  ASSERT_TRUE(taken) << taken.error().describe();
  EXPECT_GT(*taken, *first);
  release(*b, kAlice);
  auto back = token(*a, kAlice);
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_GT(*back, *taken);
}

TEST_F(NameLeasesTest, AStoppedHostsNamesAreClaimedElsewhereAtOnce) {
  auto a = host("a");
  auto b = host("b");
  ASSERT_TRUE(claim(*a, kAlice));
  ASSERT_TRUE(claim(*a, kBob));
  a->stop();  // a graceful stop releases its lease: its claims end with it
  EXPECT_FALSE(a->window()->is_open());
  EXPECT_TRUE(claim(*b, kAlice));
  EXPECT_TRUE(claim(*b, kBob));
  EXPECT_EQ(b->stats().takeovers, 2U);
}

TEST_F(NameLeasesTest, ARestartedHostTakesItsPreviousLifesClaimsBackAfterItsLeaseLapses) {
  auto first = host("a");
  ASSERT_TRUE(claim(*first, kAlice));
  auto b = host("b");
  // The first life dies without a word (no release): here, its threads stop but its lease and
  // claims stay in the bucket as a killed process leaves them.
  // NameLeases has no such switch, so the second life simply starts while the first still runs:
  // it waits for a lease it cannot get, and claims nothing meanwhile.
  auto second = host("a");
  EXPECT_FALSE(second->holding()) << "the first life's lease is renewed";
  Status s = claim(*second, kAlice);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("does not hold its lease"), std::string::npos)
      << s.error().message;
  first->stop();
  // The second life acquires the lease at its next try, then the claim is its own.
  const auto deadline = std::chrono::steady_clock::now() + kDuration * 4;
  while (!second->holding() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(second->holding());
  EXPECT_TRUE(claim(*second, kAlice));
  EXPECT_FALSE(claim(*b, kAlice));
}

}  // namespace
}  // namespace capsule::cluster
