#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

#include <capsule/wasm/engine_sizing.hpp>

#include "engine_internal.hpp"

namespace capsule::wasm {
namespace {

using detail::human_bytes;

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = kKiB * 1024;
constexpr std::uint64_t kGiB = kMiB * 1024;
constexpr std::uint64_t kTiB = kGiB * 1024;
constexpr std::uint64_t kWasmPage = 64 * kKiB;

// x86-64 and aarch64 Linux hand out 47-bit user addresses unless asked for more.
constexpr std::uint64_t kUserAddressSpace = 128 * kTiB;

// Wasmtime 48's defaults on 64-bit hosts: each memory gets a 4 GiB reservation with a 32 MiB
// guard after it (and one before), so a 32-bit guest address can never leave it.
constexpr std::uint64_t kGuardedReservation = 4 * kGiB;
constexpr std::uint64_t kGuardedGuard = 32 * kMiB;
// Compact slots: the reservation is the memory limit itself and guest code checks bounds.
constexpr std::uint64_t kCompactGuard = 64 * kKiB;
constexpr std::uint64_t kOnDemandGrowth = 1 * kMiB;

// Per component instance when its shape is not known (InstanceDemand::memories = 0): linear
// memories (a guest's, an adapter's) and tables, counted generously so a pool never runs out
// before its instance count does. Every guest we build defines one memory (adapters import it).
constexpr std::uint64_t kUnknownMemoriesPerInstance = 2;
constexpr std::uint64_t kTablesPerInstance = 4;
constexpr std::uint64_t kTableSlotBytes = 100'000ULL * 8;  // InstanceCaps::table_elements pointers
// A fiber stack: Wasmtime's default async stack plus its guard page.
constexpr std::uint64_t kStackBytes = 2 * kMiB + 4 * kKiB;

// Kernel memory mappings (vm.max_map_count), counted per pool slot, not per live instance: a
// memory slot that held an instance keeps its copy-on-write image mapped after the instance is
// gone (Wasmtime reuses it for the next instance of the same component), so each memory slot
// ever used is its image page, its writable heap and the inaccessible rest of the slot (3), and
// each fiber stack the stack and its guard (2). Measured (activation_bench, 80,000 names
// through 10,000 active carts): 66,974 maps with 13,114 memory slots in use of 21,250 and
// 10,630 stacks; counting only live instances (4 each) had estimated ~62,000 and the host ran
// out of mappings (ENOMEM at instantiation, then std::bad_alloc in malloc) under the default
// limit.
constexpr std::uint64_t kMapsPerMemorySlot = 3;
constexpr std::uint64_t kMapsPerStack = 2;
constexpr std::uint64_t kMapsHeadroom = 1024;
enum class Strategy : std::uint8_t { kGuardedPool, kCompactPool, kOnDemand };

std::uint64_t round_up(std::uint64_t v, std::uint64_t to) {
  return (v + to - 1) / to * to;
}

std::string with_commas(std::uint64_t v) {
  std::string digits = std::to_string(v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Reservations are estimates: "90.4 TiB" reads better than an exact count of KiB.
std::string approx_bytes(std::uint64_t b) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(b);
  std::size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(units)) {
    v /= 1024.0;
    ++u;
  }
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return text;
}

std::uint64_t read_number(const char* path) {
  std::ifstream in(path);
  std::uint64_t v = 0;
  in >> v;
  return v;
}

std::uint64_t count_lines(const char* path) {
  std::ifstream in(path);
  return static_cast<std::uint64_t>(
      std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
}

// "VmSize:  123 kB" from /proc/self/status, in bytes.
std::uint64_t address_space_in_use() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmSize:") {
      std::uint64_t kb = 0;
      in >> kb;
      return kb * kKiB;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

struct Layout {
  Strategy strategy;
  std::uint64_t reserved;  // address space
};

}  // namespace

HostCapacity HostCapacity::probe() {
  HostCapacity c;
  std::uint64_t limit = kUserAddressSpace;
  rlimit as{};
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    limit = std::min<std::uint64_t>(limit, as.rlim_cur);
  }
  const std::uint64_t used = address_space_in_use();
  c.address_space_bytes = limit > used ? limit - used : 0;
  c.map_count_limit = read_number("/proc/sys/vm/max_map_count");
  if (c.map_count_limit == 0) c.map_count_limit = 65530;  // the kernel's default
  c.maps_in_use = count_lines("/proc/self/maps");
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) {
    c.physical_memory_bytes = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
  }
  return c;
}

Result<EngineSizing> size_engine(std::span<const InstanceDemand> demands,
                                 const HostCapacity& capacity, std::uint64_t default_memory_bytes) {
  std::uint64_t instances = 0;
  std::uint64_t slot = kWasmPage;
  std::uint64_t instance_memories = 0;  // memories of all instances at once
  std::uint64_t most_memories = 1;      // per instance, the largest of any demand
  for (const auto& d : demands) {
    const std::uint64_t per_instance = d.memories != 0 ? d.memories : kUnknownMemoriesPerInstance;
    instance_memories += d.instances * per_instance;
    most_memories = std::max(most_memories, per_instance);
    const std::uint64_t memory = d.memory_bytes != 0 ? d.memory_bytes : default_memory_bytes;
    if (capacity.physical_memory_bytes != 0 && memory > capacity.physical_memory_bytes) {
      return make_error(ErrorCode::kInvalidArgument,
                        "component '" + d.component + "': memory limit " + approx_bytes(memory) +
                            " is more than this machine's memory (" +
                            approx_bytes(capacity.physical_memory_bytes) +
                            "); lower [component.limits] memory");
    }
    instances += d.instances;
    slot = std::max(slot, round_up(memory, kWasmPage));
  }
  // Restarts and upgrades build the next instance before dropping the old one, a few at a time
  // (one per worker): headroom for those, and for failover adoptions of small manifests.
  const std::uint64_t spare_slots = std::max<std::uint64_t>(64, instances / 16);
  const std::uint64_t slots = instances + spare_slots;
  const std::uint64_t memories = instance_memories + spare_slots * most_memories;
  const std::uint64_t tables = slots * kTablesPerInstance;
  const std::uint64_t table_bytes = tables * kTableSlotBytes;
  // Pools take at most half of what is free: the heap, thread stacks and later upgrades need the
  // rest.
  const std::uint64_t budget = capacity.address_space_bytes / 2;

  // One per slot: Wasmtime keeps a Store's last fiber stack in the Store for its next call, so
  // every live instance holds one (an instance past the pool's stacks fails to instantiate).
  const std::uint64_t stacks = slots;
  const std::uint64_t maps =
      capacity.maps_in_use + memories * kMapsPerMemorySlot + stacks * kMapsPerStack + kMapsHeadroom;
  if (maps > capacity.map_count_limit) {
    const std::uint64_t advice = round_up(maps + maps / 4, 1024);
    return make_error(
        ErrorCode::kUnavailable,
        with_commas(instances) + " component instances need about " + with_commas(maps) +
            " memory mappings; this machine allows " + with_commas(capacity.map_count_limit) +
            " (vm.max_map_count). Raise it as root: sysctl -w vm.max_map_count=" +
            std::to_string(advice) + " (persist it in /etc/sysctl.d/), or run fewer instances");
  }

  const std::uint64_t stack_bytes = stacks * kStackBytes;
  const std::uint64_t guarded =
      memories * (kGuardedReservation + 2 * kGuardedGuard) + table_bytes + stack_bytes;
  const std::uint64_t compact = memories * (slot + 2 * kCompactGuard) + table_bytes + stack_bytes;
  Layout layout{Strategy::kGuardedPool, guarded};
  if (guarded > budget) layout = {Strategy::kCompactPool, compact};
  if (compact > budget) {
    // Memories sized by use, not by limit: growth past the reserved room moves the memory.
    const std::uint64_t on_demand = instance_memories * (kWasmPage + kOnDemandGrowth);
    layout = {Strategy::kOnDemand, on_demand};
    if (on_demand > budget) {
      return make_error(ErrorCode::kUnavailable,
                        with_commas(instances) + " component instances need at least " +
                            approx_bytes(on_demand) + " of address space; this process has " +
                            approx_bytes(capacity.address_space_bytes) +
                            " free (47-bit user space, ulimit -v). Run fewer instances");
    }
  }

  EngineSizing out;
  out.instances = instances;
  out.reserved_bytes = layout.reserved;
  out.reserved_text = approx_bytes(layout.reserved);
  out.maps_estimate = maps;
  auto& pool = out.pooling;
  pool.enabled = layout.strategy != Strategy::kOnDemand;
  pool.total_component_instances = static_cast<std::uint32_t>(slots);
  pool.total_memories = static_cast<std::uint32_t>(memories);
  pool.total_tables = static_cast<std::uint32_t>(tables);
  pool.max_memory_bytes = slot;
  pool.total_stacks = static_cast<std::uint32_t>(stacks);
  switch (layout.strategy) {
    case Strategy::kGuardedPool:
      out.summary = "pooled, " + with_commas(slots) + " slots of " + human_bytes(slot) +
                    " in guarded 4 GiB reservations (no bounds checks)";
      break;
    case Strategy::kCompactPool:
      out.layout.reservation = slot;
      out.layout.guard = kCompactGuard;
      out.summary = "pooled, " + with_commas(slots) + " compact slots of " + human_bytes(slot) +
                    " (bounds-checked: guarded 4 GiB slots would need " + approx_bytes(guarded) +
                    ")";
      break;
    case Strategy::kOnDemand:
      out.layout.reservation = kWasmPage;
      out.layout.guard = kCompactGuard;
      out.layout.reservation_for_growth = kOnDemandGrowth;
      out.summary = "on demand, memories mapped as they grow (a pool of " + human_bytes(slot) +
                    " slots would need " + approx_bytes(compact) + ")";
      break;
  }
  return out;
}

}  // namespace capsule::wasm
