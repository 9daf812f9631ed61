// The engine sized from what a host will run: which layout each demand gets, the refusals with
// their numbers, and real components running (and held to their memory limit) in each layout.
#include <gtest/gtest.h>

#include <capsule/wasm/engine_sizing.hpp>

#include "component_fixture.hpp"

namespace capsule::wasm {
namespace {

using namespace capsule::wasm::testing;

constexpr std::uint64_t kMiB = 1ULL << 20;
constexpr std::uint64_t kGiB = 1ULL << 30;
constexpr std::uint64_t kTiB = 1ULL << 40;

// A 64-bit Linux host with the kernel's default map limit and 24 GiB of memory.
HostCapacity roomy_host() {
  return HostCapacity{.address_space_bytes = 127 * kTiB,
                      .map_count_limit = 65530,
                      .maps_in_use = 400,
                      .physical_memory_bytes = 24 * kGiB};
}

// One linear memory per instance: what every guest we build defines.
Result<EngineSizing> size(std::uint32_t instances, std::uint64_t memory,
                          const HostCapacity& host = roomy_host(), std::uint32_t memories = 1) {
  const InstanceDemand demand{"shop/cart", instances, memory, memories};
  return size_engine({&demand, 1}, host, 32 * kMiB);
}

TEST(EngineSizing, ASmallHostGetsGuardedSlotsAsLargeAsItsLargestLimit) {
  const InstanceDemand demands[] = {{"a/small", 10, 1 * kMiB}, {"a/big", 2, 48 * kMiB + 1}};
  auto sizing = size_engine(demands, roomy_host(), 32 * kMiB);
  ASSERT_TRUE(sizing) << sizing.error().describe();
  EXPECT_TRUE(sizing->pooling.enabled);
  // Rounded up to whole wasm pages.
  EXPECT_EQ(sizing->pooling.max_memory_bytes, 48 * kMiB + 64ULL * 1024);
  EXPECT_EQ(sizing->layout.reservation, 0u) << "Wasmtime's 4 GiB default: no bounds checks";
  EXPECT_EQ(sizing->instances, 12u);
  EXPECT_GE(sizing->pooling.total_component_instances, 12u + 64u);
  EXPECT_GE(sizing->pooling.total_memories, 2 * sizing->pooling.total_component_instances);
  EXPECT_NE(sizing->summary.find("guarded"), std::string::npos) << sizing->summary;
}

TEST(EngineSizing, AComponentWithoutALimitIsSizedByTheDefault) {
  auto sizing = size(4, 0);
  ASSERT_TRUE(sizing) << sizing.error().describe();
  EXPECT_EQ(sizing->pooling.max_memory_bytes, 32 * kMiB);
}

// The map limit raised (as `sysctl -w vm.max_map_count` does) for tests about address space.
HostCapacity many_maps_host() {
  HostCapacity host = roomy_host();
  host.map_count_limit = 1'048'576;
  return host;
}

TEST(EngineSizing, ManyInstancesGetCompactSlotsWhenGuardedOnesWouldNotFit) {
  // 20,000 guarded memories (4 GiB + guards each) are more than half of 127 TiB.
  auto guarded = size(14'000, 32 * kMiB, many_maps_host());
  ASSERT_TRUE(guarded) << guarded.error().describe();
  EXPECT_EQ(guarded->layout.reservation, 0u) << guarded->summary;
  auto sizing = size(20'000, 32 * kMiB, many_maps_host());
  ASSERT_TRUE(sizing) << sizing.error().describe();
  EXPECT_TRUE(sizing->pooling.enabled);
  EXPECT_EQ(sizing->layout.reservation, 32 * kMiB);
  EXPECT_GT(sizing->layout.guard, 0u);
  EXPECT_LT(sizing->reserved_bytes, 2 * kTiB);
  EXPECT_NE(sizing->summary.find("compact"), std::string::npos) << sizing->summary;
}

TEST(EngineSizing, InstancesPastTheMapLimitAreRefusedWithTheSysctlToRaise) {
  auto sizing = size(100'000, 1 * kMiB);
  ASSERT_FALSE(sizing);
  const auto& text = sizing.error().message;
  EXPECT_NE(text.find("100,000 component instances"), std::string::npos) << text;
  EXPECT_NE(text.find("65,530 (vm.max_map_count)"), std::string::npos) << text;
  EXPECT_NE(text.find("sysctl -w vm.max_map_count="), std::string::npos) << text;

  HostCapacity raised = roomy_host();
  raised.map_count_limit = 1'048'576;
  auto served = size(100'000, 1 * kMiB, raised);
  ASSERT_TRUE(served) << served.error().describe();
  EXPECT_GE(served->pooling.total_component_instances, 100'000u);
  EXPECT_LE(served->maps_estimate, raised.map_count_limit);
}

TEST(EngineSizing, EveryInstanceHasAFiberStackAndTheirMapsCount) {
  // Wasmtime keeps a Store's last fiber stack in the Store: one per slot, two maps each.
  auto fits = size(10'000, 1 * kMiB);
  ASSERT_TRUE(fits) << fits.error().describe();
  EXPECT_EQ(fits->pooling.total_stacks, fits->pooling.total_component_instances);
  EXPECT_LE(fits->maps_estimate, 65'530u);
  // 12,500 instances would fit the map limit without their stacks; with them they do not.
  auto refused = size(12'500, 1 * kMiB);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("vm.max_map_count"), std::string::npos);
}

TEST(EngineSizing, MapsAreCountedForEveryMemorySlotNotOnlyLiveInstances) {
  // A memory slot keeps its copy-on-write image mapped after its instance is gone, so churn
  // (virtual actors, restarts) maps every slot of the pool in time: 3 maps per memory slot and
  // 2 per stack, whatever number of instances is live.
  const HostCapacity host = roomy_host();
  auto sizing = size(10'000, 1 * kMiB, host);
  ASSERT_TRUE(sizing) << sizing.error().describe();
  const std::uint64_t memories = sizing->pooling.total_memories;
  const std::uint64_t stacks = sizing->pooling.total_stacks;
  EXPECT_EQ(memories, sizing->pooling.total_component_instances) << "one memory per instance";
  EXPECT_GE(sizing->maps_estimate, host.maps_in_use + 3 * memories + 2 * stacks);
}

TEST(EngineSizing, AComponentOfUnknownShapeIsCountedAsTwoMemories) {
  auto known = size(10'000, 1 * kMiB, roomy_host(), 1);
  ASSERT_TRUE(known) << known.error().describe();
  auto unknown = size(10'000, 1 * kMiB, roomy_host(), 0);
  ASSERT_FALSE(unknown) << "20,000 memory slots keeping their images do not fit 65,530 maps";
  EXPECT_NE(unknown.error().message.find("vm.max_map_count"), std::string::npos);
  auto fewer = size(7'000, 1 * kMiB, roomy_host(), 0);
  ASSERT_TRUE(fewer) << fewer.error().describe();
  EXPECT_EQ(fewer->pooling.total_memories, 2 * fewer->pooling.total_component_instances);
  // Demands of different shapes: the spare slots get the largest.
  const InstanceDemand demands[] = {{"a/one", 100, 1 * kMiB, 1}, {"a/three", 10, 1 * kMiB, 3}};
  auto mixed = size_engine(demands, roomy_host(), 32 * kMiB);
  ASSERT_TRUE(mixed) << mixed.error().describe();
  EXPECT_EQ(mixed->pooling.total_memories, 100u + 30u + 64u * 3u);
}

TEST(EngineSizing, AMemoryLimitBeyondTheMachineIsRefusedNamingTheComponent) {
  auto sizing = size(1, 64 * kGiB);
  ASSERT_FALSE(sizing);
  EXPECT_EQ(sizing.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(sizing.error().message.find("'shop/cart'"), std::string::npos)
      << sizing.error().message;
  EXPECT_NE(sizing.error().message.find("64.0 GiB"), std::string::npos) << sizing.error().message;
}

TEST(EngineSizing, WhenNoPoolFitsMemoriesAreMappedOnDemandAndThenRefused) {
  HostCapacity small = roomy_host();
  small.address_space_bytes = 64 * kGiB;  // e.g. ulimit -v
  auto sizing = size(1000, 64 * kMiB);
  ASSERT_TRUE(sizing);
  auto on_demand = size(1000, 64 * kMiB, small);
  ASSERT_TRUE(on_demand) << on_demand.error().describe();
  EXPECT_FALSE(on_demand->pooling.enabled);
  EXPECT_NE(on_demand->summary.find("on demand"), std::string::npos) << on_demand->summary;

  small.address_space_bytes = 2 * kGiB;
  auto refused = size(1000, 64 * kMiB, small);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("address space"), std::string::npos)
      << refused.error().message;
}

TEST(EngineSizing, ProbeReadsThisProcess) {
  const auto host = HostCapacity::probe();
  EXPECT_GT(host.address_space_bytes, 0u);
  EXPECT_GT(host.map_count_limit, 0u);
  EXPECT_GT(host.maps_in_use, 10u);
  EXPECT_GT(host.physical_memory_bytes, 0u);
}

// Real engines in each layout: echo answers, and a memory hog stops at its limit.
void expect_layout_runs_guests(const EngineSizing& sizing) {
  EngineConfig config;
  sizing.apply(config);
  config.default_limits.memory_bytes = sizing.pooling.max_memory_bytes;
  auto engine = make_engine(config);
  ASSERT_TRUE(engine);
  auto echo = load(*engine, "echo");
  auto inst = engine->instantiate(*echo, {id_of("echo"), {}, nullptr});
  ASSERT_TRUE(inst) << inst.error().describe();
  ASSERT_TRUE(inst->init({}));
  auto reply = inst->handle_message(message_with(Payload::text("sized")));
  ASSERT_TRUE(reply) << reply.error().describe();
  ASSERT_TRUE(reply->has_value());
  EXPECT_EQ((*reply)->as_string(), "sized");

  auto hog_code = load(*engine, "hog");
  auto hog = engine->instantiate(*hog_code, {id_of("hog"), {8 * kMiB, 0, {}}, nullptr});
  ASSERT_TRUE(hog) << hog.error().describe();
  ASSERT_TRUE(hog->init({}));
  auto eaten = hog->handle_message(message_with(Payload::text("eat")));
  ASSERT_FALSE(eaten);
  EXPECT_EQ(eaten.error().code, ErrorCode::kMemoryLimit) << eaten.error().describe();
}

TEST(EngineSizing, GuestsRunInCompactBoundsCheckedSlots) {
  auto sizing = size(20'000, 16 * kMiB, many_maps_host());
  ASSERT_TRUE(sizing);
  ASSERT_EQ(sizing->layout.reservation, 16 * kMiB);
  // The test needs the layout, not 10,000 slots.
  sizing->pooling.total_component_instances = 8;
  sizing->pooling.total_memories = 16;
  sizing->pooling.total_tables = 32;
  sizing->pooling.total_stacks = 8;
  expect_layout_runs_guests(*sizing);
}

TEST(EngineSizing, GuestsRunInOnDemandMemories) {
  HostCapacity small = roomy_host();
  small.address_space_bytes = 64 * kGiB;
  auto sizing = size(1000, 64 * kMiB, small);
  ASSERT_TRUE(sizing);
  ASSERT_FALSE(sizing->pooling.enabled);
  expect_layout_runs_guests(*sizing);
}

}  // namespace
}  // namespace capsule::wasm
