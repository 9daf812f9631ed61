// Server-checked fencing of a claimed name's storage (docs/cluster.md, "Name claims"): the host
// that wins a name's claim moves the name's fence (`<hex(space)>.fence-<hex(name)>`, in the
// storage space all names of the component share) to the claim's token before the activation's
// init reads its state, and every write of that activation carries the token. On nats-server >=
// 2.11 (CTest's cluster.fencing.*, on the 2.14 that scripts/bootstrap.sh builds) the server
// refuses a write of an activation under an older claim however late it arrives; on Debian's
// 2.9.10 the same late write lands (the control: only the host's own checks stand there).
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <poll.h>
#include <regex>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <capsule/cluster/name_leases.hpp>
#include <capsule/cluster/nats_kv_backend.hpp>

#include "cluster_clients.hpp"
#include "cluster_fixture.hpp"

namespace capsule::cluster::testing {
namespace {

using namespace std::chrono_literals;
using storage::Bytes;
using Permit = storage::KvBackend::WritePermit;

constexpr auto kDuration = 400ms;
const std::string kSpace = "shop/cart";
const ComponentId kX{"shop", "cart", "x"};
const ComponentId kCanary{"shop", "cart", "canary"};

Bytes bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

// What `key` of the cart's space holds, as text.
std::string stored(NatsKvBackend& kv, std::string_view key) {
  auto value = kv.get(kSpace, key);
  if (!value) return "error: " + value.error().describe();
  return *value ? std::string((*value)->begin(), (*value)->end()) : "<none>";
}

// NatsKvBackend's own fencing of names, on two connections as two hosts would have them.
class NameFenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server.running());
    one = connect_kv(server.url());
    two = connect_kv(server.url());
    ASSERT_NE(one, nullptr);
    ASSERT_NE(two, nullptr);
  }

  void skip_unless_server_fences() {
    if (const std::string why = cannot_fence_on(*one); !why.empty()) GTEST_SKIP() << why;
  }

  // A permit as an activation's host bindings make it, whose own check always says yes.
  static Permit activation(const ComponentId& id, std::uint64_t token, int& fenced) {
    Permit p([] { return ok(); }, token, id.instance);
    p.when_fenced([&fenced](const Error&) { ++fenced; });
    return p;
  }

  NatsServer server{NatsServer::Mode::kJetStream};
  std::unique_ptr<NatsKvBackend> one;
  std::unique_ptr<NatsKvBackend> two;
  security::StorageQuota quota{.max_bytes = 10000, .max_keys = 100};
};

// Host one activated x under claim 10 and canary under claim 11; host two then claims x (token
// 12) and fences it. One's next write of x is refused naming the name and both tokens, and one
// is told it was fenced; its write of canary, in the same space, goes on; two writes x. The exact
// race (two fences x between one's last own check and its publish) is refused by the server.
TEST_F(NameFenceTest, ANewerClaimsFenceRefusesTheOlderActivationsWritesAndNoOtherNames) {
  skip_unless_server_fences();
  if (IsSkipped()) return;
  int fenced = 0;
  ASSERT_TRUE(one->fence(kSpace, kX.instance, 10));
  ASSERT_TRUE(one->fence(kSpace, kCanary.instance, 11));
  ASSERT_TRUE(one->set_if(kSpace, "cart/x", bytes("a1"), quota, activation(kX, 10, fenced)));
  ASSERT_TRUE(
      one->set_if(kSpace, "cart/canary", bytes("c1"), quota, activation(kCanary, 11, fenced)));
  // The exact race: two takes x over inside one's last own check.
  bool taken = false;
  Permit racing(
      [&]() -> Status {
        if (!taken) {
          taken = true;
          EXPECT_TRUE(two->fence(kSpace, kX.instance, 12));
        }
        return ok();
      },
      10, kX.instance);
  racing.when_fenced([&fenced](const Error&) { ++fenced; });
  const std::uint64_t conflicts = one->conflicts();
  const Status late = one->set_if(kSpace, "cart/x", bytes("a1,a2"), quota, racing);
  ASSERT_TRUE(taken);
  ASSERT_FALSE(late) << "the late write landed";
  EXPECT_GT(one->conflicts(), conflicts) << "refused by the server (a conflict), then by the fence";
  EXPECT_EQ(late.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(late.error().message,
            "storage write to shop/cart/x with claim token 10 refused: the name is fenced by "
            "claim token 12 (another host has it active)");
  EXPECT_EQ(fenced, 1);
  // Every later write of x under claim 10 is refused at once, a delete too.
  EXPECT_FALSE(one->set_if(kSpace, "cart/x", bytes("a3"), quota, activation(kX, 10, fenced)));
  EXPECT_FALSE(one->erase_if(kSpace, "cart/x", activation(kX, 10, fenced)));
  EXPECT_EQ(fenced, 3);
  // The other names of the space are not one's to lose.
  EXPECT_TRUE(
      one->set_if(kSpace, "cart/canary", bytes("c1,c2"), quota, activation(kCanary, 11, fenced)));
  EXPECT_TRUE(two->set_if(kSpace, "cart/x", bytes("a1,b1"), quota, activation(kX, 12, fenced)));
  EXPECT_EQ(fenced, 3);
  EXPECT_EQ(stored(*two, "cart/x"), "a1,b1");
  EXPECT_EQ(stored(*two, "cart/canary"), "c1,c2");
  // A name's fence never moves back, and fences are no data keys.
  const Status back = one->fence(kSpace, kX.instance, 10);
  ASSERT_FALSE(back);
  EXPECT_NE(back.error().message.find("fenced by the newer token 12"), std::string::npos)
      << back.error().message;
  auto keys = two->list_keys(kSpace, "");
  ASSERT_TRUE(keys) << keys.error().describe();
  EXPECT_EQ(*keys, (std::vector<std::string>{"cart/canary", "cart/x"}));
  // The space's own fence (a failover unit's) is another fence: a name's token is not it.
  const Status unit = one->set_if(kSpace, "k", bytes("v"), quota, Permit([] { return ok(); }, 12));
  ASSERT_FALSE(unit);
  EXPECT_NE(unit.error().message.find("the space has no fence yet"), std::string::npos)
      << unit.error().message;
}

// A host of one name space in this process or a child: actor system, runtime, name claims and
// the cart (guest/examples/cart.c, `cart/<name>` in storage) on demand over the given storage.
struct CartHost {
  CartHost(const std::string& name, const std::string& url,
           std::shared_ptr<storage::KvBackend> storage,
           const std::function<void(const std::string&)>& on_log = {}) {
    engine = cluster_test_engine();
    LeaseConfig lc;
    lc.url = url;
    lc.bucket = lease_bucket("fence");
    lc.host = name;
    lc.duration = kDuration;
    auto c = NameLeases::connect(lc);
    EXPECT_TRUE(c) << c.error().describe();
    if (!c || !engine) return;
    claims = *c;
    component::RuntimeConfig rc;
    rc.storage = std::move(storage);
    rc.name_claimer = claims;
    if (on_log) {
      rc.log_sink = [on_log](const ComponentId& who, wasm::LogLevel, const std::string& line,
                             const wasm::KeyValues&) { on_log(who.to_string() + ": " + line); };
    }
    runtime = std::make_unique<ComponentRuntime>(system, engine, rc);
    // As the daemon does (HostDaemon::start_name_claims).
    claims->start([this] { runtime->placement_changed(); },
                  [this] { return !runtime->has_activations(); });
    ComponentSpec spec;
    spec.ns = "shop";
    spec.name = "cart";
    auto cart = engine->load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / "cart.wasm");
    EXPECT_TRUE(cart) << cart.error().describe();
    if (!cart) return;
    spec.component = *cart;
    spec.on_demand = component::OnDemandActivation{60s, 100};
    spec.limits.wall_time_per_call = 20s;  // the frozen write's call must not time out first
    ready = static_cast<bool>(runtime->start(spec));
  }
  ~CartHost() {
    if (claims) claims->stop();
    runtime.reset();
    system.shutdown();
  }
  CartHost(const CartHost&) = delete;
  CartHost& operator=(const CartHost&) = delete;

  [[nodiscard]] Result<Payload> call(const ComponentId& to, const std::string& what) const {
    // Long enough for a call that waits out a freeze and a takeover (a duration or two).
    return runtime->call(to, Payload::text(what), 20s);
  }
  [[nodiscard]] std::string answer(const ComponentId& to, const std::string& what) const {
    auto r = call(to, what);
    return r ? r->as_string() : "error: " + r.error().describe();
  }
  [[nodiscard]] component::ActivationStats stats() const {
    return runtime->activation_stats().front();
  }

  std::shared_ptr<wasm::WasmEngine> engine;
  std::shared_ptr<NameLeases> claims;
  rt::ActorSystem system;
  std::unique_ptr<ComponentRuntime> runtime;
  bool ready = false;
};

// Storage that freezes its process (SIGSTOP) at the worst instant of one write: right after the
// host's own last check said yes (the permit asked before the value's publish), when nothing on
// the host can stop the write any more. Says 'S' on `out` first. Only the next write of `key`
// after arm(); everything else passes through.
class FreezingKv final : public storage::KvBackend {
 public:
  FreezingKv(std::unique_ptr<NatsKvBackend> kv, std::string key, int out)
      : kv_(std::move(kv)), key_(std::move(key)), out_(out) {}
  void arm() { armed_.store(true); }

  Result<std::optional<Bytes>> get(std::string_view space, std::string_view key) override {
    return kv_->get(space, key);
  }
  Status set(std::string_view space, std::string_view key, const Bytes& value,
             const security::StorageQuota& quota) override {
    return kv_->set(space, key, value, quota);
  }
  Result<bool> erase(std::string_view space, std::string_view key) override {
    return kv_->erase(space, key);
  }
  Result<bool> exists(std::string_view space, std::string_view key) override {
    return kv_->exists(space, key);
  }
  Result<std::vector<std::string>> list_keys(std::string_view space,
                                             std::string_view prefix) override {
    return kv_->list_keys(space, prefix);
  }
  Result<storage::KvUsage> usage(std::string_view space) override { return kv_->usage(space); }
  Status fence(std::string_view space, std::string_view name, std::uint64_t token) override {
    return kv_->fence(space, name, token);
  }
  Status set_if(std::string_view space, std::string_view key, const Bytes& value,
                const security::StorageQuota& quota, const WritePermit& allowed) override {
    if (key != key_ || !armed_.exchange(false)) {
      return kv_->set_if(space, key, value, quota, allowed);
    }
    // A write that grows the value asks twice: before the usage reservation, and last before
    // the value itself.
    int asked = 0;
    WritePermit frozen(
        [&]() -> Status {
          Status s = allowed();
          if (s && ++asked == 2) {
            const char c = 'S';
            static_cast<void>(::write(out_, &c, 1));
            ::raise(SIGSTOP);
          }
          return s;
        },
        allowed.fence_token(), allowed.fence_name());
    frozen.when_fenced([&allowed](const Error& why) { allowed.fenced(why); });
    return kv_->set_if(space, key, value, quota, frozen);
  }
  Result<bool> erase_if(std::string_view space, std::string_view key,
                        const WritePermit& allowed) override {
    return kv_->erase_if(space, key, allowed);
  }
  Result<Bytes> update_if(std::string_view space, std::string_view key, const Update& update,
                          const security::StorageQuota& quota,
                          const WritePermit& allowed) override {
    return kv_->update_if(space, key, update, quota, allowed);
  }

 private:
  std::unique_ptr<NatsKvBackend> kv_;
  std::string key_;
  int out_;
  std::atomic<bool> armed_{false};
};

void say_line(int fd, const std::string& line) {
  const std::string out = line + "\n";
  static_cast<void>(::write(fd, out.data(), out.size()));
}

// One byte from `fd` within `timeout` (0 if none came).
char hear_char(int fd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return 0;
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    char c = 0;
    if (n <= 0 || ::read(fd, &c, 1) != 1) return 0;
    return c;
  }
}

// One line from `fd` within `timeout` ("" if none came).
std::string hear_line(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (char c = hear_char(fd, deadline); c != 0; c = hear_char(fd, deadline)) {
    if (c == '\n') return line;
    line.push_back(c);
  }
  return "";
}

// Host "a" in a child process: activates x (adds a1), then on "go" adds a2 and freezes in that
// write (FreezingKv) until the parent continues it; reports the write's outcome, then what it
// counted and logged.
[[noreturn]] void run_host_a(const std::string& url, int out, int in) {
  auto kv = std::make_shared<FreezingKv>(connect_kv(url), "cart/x", out);
  std::atomic<int> fence_lines{0};
  CartHost a("a", url, kv, [&fence_lines](const std::string& line) {
    if (line.find("refused by the name's fence") != std::string::npos) ++fence_lines;
  });
  if (!a.ready) {
    say_line(out, "not ready");
    ::_exit(2);
  }
  say_line(out, a.answer(kX, "add:a1"));
  if (hear_line(in, 60s) != "go") ::_exit(3);
  kv->arm();
  auto late = a.call(kX, "add:a2");
  say_line(out, late ? "ok " + late->as_string() : "error " + late.error().describe());
  say_line(out, std::to_string(a.stats().fenced_writes) + " " + std::to_string(fence_lines.load()));
  for (;;) ::pause();
}

// The whole story with real processes. Host a (a child process) activated x; host b (this
// process) activates canary. a freezes (SIGSTOP) in the middle of a write of x, right after its
// own last check. b is refused x while a's lease stands, then takes the claim over, fences x and
// activates it: init reads what a had committed. a continues: on nats-server >= 2.11 its late
// write is refused by the server, the error names x and both claim tokens, a counts and logs it
// and deactivates x; b's state of x is intact and canary answered all along. On an older server
// the late write lands (the control), and b's next write loses it.
// The server only: a forked child must not inherit a parent's NATS client threads.
class NameFenceAcrossProcesses : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server.running()); }
  NatsServer server{NatsServer::Mode::kJetStream};
};

TEST_F(NameFenceAcrossProcesses, APausedHostsLateWriteIsRefusedByTheServerAndItsActivationEnds) {
  int to_parent[2];
  int to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(to_parent[0]);
    ::close(to_child[1]);
    run_host_a(server.url(), to_parent[1], to_child[0]);
  }
  ::close(to_parent[1]);
  ::close(to_child[0]);
  const int from_a = to_parent[0];
  const int to_a = to_child[1];
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  } reaper{child};

  ASSERT_EQ(hear_line(from_a, 30s), "1") << "a activated x and added a1";
  auto one = connect_kv(server.url());
  ASSERT_NE(one, nullptr);
  const bool server_fences = one->server_fencing();
  CartHost b("b", server.url(), std::shared_ptr<storage::KvBackend>(connect_kv(server.url())));
  ASSERT_TRUE(b.ready);
  ASSERT_EQ(b.answer(kCanary, "add:c1"), "1");
  auto refused = b.call(kX, "count");
  ASSERT_FALSE(refused) << "x is active on a";
  EXPECT_NE(refused.error().message.find("active on host a"), std::string::npos)
      << refused.error().message;

  say_line(to_a, "go");
  ASSERT_EQ(hear_char(from_a, std::chrono::steady_clock::now() + 30s), 'S');
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, WUNTRACED), child);
  ASSERT_TRUE(WIFSTOPPED(status)) << "a froze inside its write of a2";

  // b takes x over once a's lease has stood still for a duration; canary answers meanwhile.
  const auto frozen = std::chrono::steady_clock::now();
  auto count = b.call(kX, "count");
  while (!count && std::chrono::steady_clock::now() - frozen < kDuration * 8) {
    EXPECT_EQ(b.answer(kCanary, "count"), "1");
    std::this_thread::sleep_for(20ms);
    count = b.call(kX, "count");
  }
  ASSERT_TRUE(count) << count.error().describe();
  EXPECT_EQ(count->as_string(), "1") << "b's init read what a had committed (a1)";
  EXPECT_EQ(b.claims->stats().takeovers, 1U);

  ASSERT_EQ(::kill(child, SIGCONT), 0);
  const std::string late = hear_line(from_a, 30s);
  const std::string counted = hear_line(from_a, 10s);
  std::printf("server %s: a's late add:a2 -> %s; a's fenced_writes and fence log lines: %s\n",
              NatsServer::binary(), late.c_str(), counted.c_str());
  if (server_fences) {
    // Refused by the server (the space changed since a read it: b's fence), then by the fence.
    const std::regex refusal(
        "^error .*storage write to shop/cart/x with claim token ([0-9]+) refused: the name is "
        "fenced by claim token ([0-9]+) \\(another host has it active\\)");
    std::smatch tokens;
    ASSERT_TRUE(std::regex_search(late, tokens, refusal)) << late;
    EXPECT_LT(std::stoull(tokens[1].str()), std::stoull(tokens[2].str()));
    EXPECT_EQ(counted, "1 1") << "a counted one fenced write and logged it (fenced_writes, lines)";
    EXPECT_EQ(stored(*one, "cart/x"), "a1") << "the late write did not land";
    EXPECT_EQ(b.answer(kX, "add:b1"), "2");
    EXPECT_EQ(b.answer(kX, "list"), "a1,b1");
    EXPECT_EQ(stored(*one, "cart/x"), "a1,b1");
  } else {
    // The control: the write a's own checks let through lands, and a acknowledges it ...
    EXPECT_EQ(late, "ok 2") << "nats-server < 2.11: only the host's own checks stand";
    EXPECT_EQ(stored(*one, "cart/x"), "a1,a2");
    EXPECT_EQ(counted, "0 0");
    // ... and b, whose state was read before it, writes over it: a2, acknowledged, is lost.
    EXPECT_EQ(b.answer(kX, "add:b1"), "2");
    EXPECT_EQ(stored(*one, "cart/x"), "a1,b1");
  }
  EXPECT_EQ(b.answer(kCanary, "add:c2"), "2") << "the canary answers and writes throughout";
  EXPECT_EQ(b.stats().fenced_writes, 0U);
  EXPECT_EQ(b.stats().failed_activations, 0U);
  ::close(from_a);
  ::close(to_a);
}

}  // namespace
}  // namespace capsule::cluster::testing
