// Attacks on the host's CPU, stack and memory, and on the meaning of a failure: each hostile
// instance is stopped by its limit, restarted, and the canary next to it keeps answering.
#include "hostile_fixture.hpp"

namespace capsule::hostile {
namespace {

using ComputeAttack = HostileFixture;

// The failure a requester sees for an attack that ends in a trap, and the instance was restarted.
void expect_failed_and_restarted(HostileFixture& f, const ComponentId& id,
                                 const Result<Payload>& outcome, std::string_view cause) {
  ASSERT_FALSE(outcome) << outcome->as_string();
  EXPECT_NE(outcome.error().message.find(cause), std::string::npos)
      << "expected '" << cause << "' in: " << outcome.error().describe();
  EXPECT_NE(outcome.error().message.find("test/hostile/0"), std::string::npos)
      << outcome.error().describe();
  // The restarted instance answers again (here: its next attack is answered the same way).
  for (int i = 0; i < 200 && f.starts_of(id) < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(f.starts_of(id), 2U) << "the hostile instance was not restarted";
}

TEST_F(ComputeAttack, InfiniteLoopIsInterruptedAtItsWallTime) {
  const ComponentId id = hostile("loop", {}, {.wall_time_per_call = 300ms});
  expect_failed_and_restarted(*this, id, attack(id), "wall-time limit");
  expect_nothing_else_changed();
}

TEST_F(ComputeAttack, InfiniteLoopRunsOutOfFuel) {
  const ComponentId id = hostile("loop", {}, {.fuel_per_call = 50'000'000});
  expect_failed_and_restarted(*this, id, attack(id), "fuel");
  expect_nothing_else_changed();
}

TEST_F(ComputeAttack, UnboundedRecursionOverflowsTheGuestStackNotTheHosts) {
  const ComponentId id = hostile("recursion");
  expect_failed_and_restarted(*this, id, attack(id), "overflowed its stack");
  expect_nothing_else_changed();
}

TEST_F(ComputeAttack, ShadowStackOverflowTrapsInsideTheGuestsOwnMemory) {
  const ComponentId id = hostile("shadow-stack");
  expect_failed_and_restarted(*this, id, attack(id), "out of bounds memory access");
  expect_nothing_else_changed();
}

TEST_F(ComputeAttack, MallocLoopHitsTheMemoryLimit) {
  const ComponentId id = hostile("malloc", {}, {.memory_bytes = 16ULL << 20});
  expect_failed_and_restarted(*this, id, attack(id), "memory limit");
  expect_nothing_else_changed();
}

TEST_F(ComputeAttack, MemoryGrowIsRefusedAtTheLimitForTheWholeInstance) {
  const std::uint64_t limit = 16ULL << 20;
  const ComponentId id = hostile("memory-grow", {}, {.memory_bytes = limit});
  const std::string r = report(id);
  ASSERT_GT(number(r, "grown_pages"), 0) << r;
  // The guest's own memory stays under the limit (the adapter's small memory counts too: the
  // store's limiter sums every memory of the instance).
  EXPECT_LE(static_cast<std::uint64_t>(number(r, "total_pages")) * 65536, limit) << r;
  EXPECT_EQ(starts_of(id), 1U) << "a refused memory.grow is an answer, not a trap";
  expect_nothing_else_changed();
}

// The guest runs `table.grow` on its function table (no declared maximum) in a loop: a leap of a
// million elements, then one element at a time until refused, then 2000 more attempts (single
// elements and leaps of 100k). Every table is capped at InstanceCaps::table_elements by the
// store's limiter (and, with pooling, by the pool's table slots): past it table.grow answers -1,
// an answer the guest sees, not a trap.
void expect_table_capped_at(HostileFixture& f, const ComponentId& id, long cap) {
  const std::string first = f.report(id);
  const long initial = HostileFixture::number(first, "initial");
  ASSERT_GT(initial, 0) << first;  // the function table wasm-ld made
  EXPECT_EQ(HostileFixture::number(first, "leap"), -1) << first;
  EXPECT_EQ(HostileFixture::number(first, "grown"), cap - initial) << first;
  EXPECT_EQ(HostileFixture::number(first, "size"), cap) << first;
  EXPECT_EQ(HostileFixture::number(first, "refused"), 2002)
      << "every attempt past the cap: " << first;
  // The instance lives on with its table at the cap: asking again wins nothing.
  const std::string again = f.report(id);
  EXPECT_EQ(HostileFixture::number(again, "initial"), cap) << again;
  EXPECT_EQ(HostileFixture::number(again, "grown"), 0) << again;
  EXPECT_EQ(HostileFixture::number(again, "size"), cap) << again;
  EXPECT_EQ(HostileFixture::number(again, "refused"), 2002) << again;
  EXPECT_EQ(f.starts_of(id), 1U) << "a refused table.grow is an answer, not a trap";
  EXPECT_EQ(f.runtime->failed_messages(), 0U);
}

TEST_F(ComputeAttack, TableGrowIsRefusedAtTheTableElementCap) {
  const ComponentId id = hostile("table-grow");
  expect_table_capped_at(*this, id, wasm::EngineConfig{}.instance_caps.table_elements);
  expect_nothing_else_changed();
}

// Without the pooling allocator's fixed table slots, the store's limiter alone holds the cap.
class TableGrowWithoutPooling : public HostileFixture {
 public:
  static constexpr std::uint32_t kCap = 5000;
  TableGrowWithoutPooling() {
    wasm::EngineConfig config;
    config.pooling.enabled = false;
    config.instance_caps.table_elements = kCap;
    auto e = wasm::WasmEngine::create(config);
    EXPECT_TRUE(e) << e.error().describe();
    if (e) engine = *e;
  }
};

TEST_F(TableGrowWithoutPooling, TheStoreLimiterAloneRefusesPastTheConfiguredCap) {
  const ComponentId id = hostile("table-grow");
  expect_table_capped_at(*this, id, kCap);
  expect_nothing_else_changed();
}

// Wasmtime charges one unit of fuel per element a table.grow asks for, before it looks at the
// request: a single leap of 2^31-1 elements costs more than the whole budget of a call.
TEST_F(ComputeAttack, TableGrowLeapRunsOutOfFuelBeforeTheHostGrowsAnything) {
  const ComponentId id = hostile("table-leap");
  expect_failed_and_restarted(*this, id, attack(id), "fuel");
  expect_nothing_else_changed();
}

TEST_F(ComputeAttack, UnreachableTrapRestartsOnlyTheHostileInstance) {
  const ComponentId id = hostile("unreachable");
  expect_failed_and_restarted(*this, id, attack(id), "unreachable");
  expect_nothing_else_changed();
}

TEST_F(ComputeAttack, WasiSleepCannotOutliveTheWallTimeLimit) {
  const ComponentId id = hostile("sleep", {}, {.wall_time_per_call = 300ms});
  const auto start = std::chrono::steady_clock::now();
  expect_failed_and_restarted(*this, id, attack(id), "wall-time limit");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  expect_nothing_else_changed();
}

TEST_F(ComputeAttack, HugeReplyIsRefusedBeforeTheHostCopiesIt) {
  const ComponentId id = hostile("huge-reply", {}, {.memory_bytes = 64ULL << 20});
  auto outcome = attack(id);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kInvalidArgument) << outcome.error().describe();
  EXPECT_NE(outcome.error().message.find("payload"), std::string::npos)
      << outcome.error().describe();
  expect_nothing_else_changed();
}

TEST_F(ComputeAttack, ForgedTrapTextIsReportedAsTheGuestsOwnError) {
  const ComponentId id = hostile("forged-trap");
  auto outcome = attack(id);
  ASSERT_FALSE(outcome);
  // The guest's error case and words reach the requester, marked as the guest's own answer;
  // the host does not take them for a limit: no restart, no failure counted.
  EXPECT_EQ(outcome.error().code, ErrorCode::kInternal);
  EXPECT_NE(outcome.error().message.find("test/hostile/0 handle-message returned an error"),
            std::string::npos)
      << outcome.error().describe();
  EXPECT_EQ(starts_of(id), 1U);
  EXPECT_EQ(runtime->failed_messages(), 0U);
  expect_nothing_else_changed();
}

TEST_F(ComputeAttack, HugeErrorTextIsCutForTheRequester) {
  const ComponentId id = hostile("huge-error", {}, {.memory_bytes = 64ULL << 20});
  auto outcome = attack(id);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kInternal);
  EXPECT_LE(outcome.error().message.size(), 4096U + 256U);
  EXPECT_NE(outcome.error().message.find("bytes cut"), std::string::npos);
  EXPECT_EQ(starts_of(id), 1U);
  expect_nothing_else_changed();
}

TEST_F(ComputeAttack, TrappingMetadataFailsTheStart) {
  auto id = start_hostile("metadata-trap");
  ASSERT_FALSE(id) << "a component whose metadata() traps must not start";
  EXPECT_NE(id.error().message.find("metadata"), std::string::npos) << id.error().describe();
  EXPECT_NE(id.error().message.find("test/hostile/0"), std::string::npos) << id.error().describe();
  EXPECT_FALSE(runtime->registry().lookup(ComponentId{"test", "hostile", "0"}));
  expect_nothing_else_changed();
}

}  // namespace
}  // namespace capsule::hostile
