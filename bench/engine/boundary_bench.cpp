// The engine boundary in both directions, per call, for 64 B, 64 KiB and 1 MiB: a guest calling
// messaging.send and storage.set (generated imports, bytes handed to C++ as one span) next to the
// host calling the guest's handle-message with a payload of the same size (generated typed
// export; echo copies it in and back out), all in one run on one thread.
// Usage: boundary_bench <components dir>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <capsule/wasm/engine.hpp>

#include "../common/bench_util.hpp"

namespace {

using namespace capsule;
using namespace capsule::wasm;
using bench::Clock;
using bench::us;

// Accepts every send and set, as a host with a large mailbox and quota would; counts the bytes
// so the work cannot be optimised away.
class AcceptingHost final : public StandaloneHostApi {
 public:
  using StandaloneHostApi::StandaloneHostApi;
  Status send(const ComponentId&, Payload payload) override {
    bytes += payload.bytes.size();
    return ok();
  }
  Status storage_set(const std::string&, std::vector<std::uint8_t> value) override {
    bytes += value.size();
    return ok();
  }
  std::uint64_t bytes = 0;
};

ComponentInstance instance_or_die(WasmEngine& engine, const std::filesystem::path& file,
                                  std::shared_ptr<HostApi> host) {
  auto compiled = engine.load_file(file);
  if (!compiled) {
    std::fprintf(stderr, "%s\n", compiled.error().describe().c_str());
    std::exit(1);
  }
  const ComponentId id{"bench", file.stem().string(), "0"};
  auto inst = engine.instantiate(**compiled, {id, ResourceLimits{48ULL << 20, 0, {}}, host});
  if (!inst || !inst->init({})) {
    std::fprintf(stderr, "instantiate %s failed\n", file.c_str());
    std::exit(1);
  }
  return std::move(*inst);
}

// Microseconds per guest -> host call: one handle-message making `count` calls.
double per_import_call(ComponentInstance& pump, const char* op, std::size_t bytes, int count) {
  const ComponentMessage msg{
      ComponentId{"bench", "driver", "0"},
      Payload::text(std::string(op) + " " + std::to_string(bytes) + " " + std::to_string(count)),
      std::nullopt, std::nullopt};
  static_cast<void>(pump.handle_message(msg));  // warm: the guest's buffers are allocated
  const auto t0 = Clock::now();
  auto r = pump.handle_message(msg);
  const double elapsed = us(Clock::now() - t0);
  if (!r || !*r || (*r)->as_string() != "ok " + std::to_string(count)) {
    std::fprintf(stderr, "pump %s failed: %s\n", op,
                 r ? (*r ? (*r)->as_string().c_str() : "no reply") : r.error().describe().c_str());
    std::exit(1);
  }
  return elapsed / count;
}

// Microseconds per host -> guest handle-message of `bytes` (median of `count`).
double per_export_call(ComponentInstance& echo, std::size_t bytes, int count) {
  const ComponentMessage msg{ComponentId{"bench", "driver", "0"},
                             Payload{0x55, std::vector<std::uint8_t>(bytes, 7)}, std::nullopt,
                             std::nullopt};
  std::vector<double> samples;
  for (int i = 0; i < count; ++i) {
    const auto t0 = Clock::now();
    auto r = echo.handle_message(msg);
    samples.push_back(us(Clock::now() - t0));
    if (!r) {
      std::fprintf(stderr, "echo: %s\n", r.error().describe().c_str());
      std::exit(1);
    }
  }
  return bench::percentiles(samples).p50;
}

}  // namespace

int main(int argc, char** argv) {
  const auto components = bench::components_dir(argc, argv);
  if (!components) return 2;
  const std::filesystem::path& dir = *components;
  EngineConfig config;
  config.pooling.max_memory_bytes = 64ULL << 20;
  auto engine = *WasmEngine::create(config);
  auto host = std::make_shared<AcceptingHost>(ComponentId{"bench", "pump", "0"});
  auto pump = instance_or_die(*engine, dir / "pump.wasm", host);
  auto echo = instance_or_die(*engine, dir / "echo.wasm", nullptr);

  std::printf("%-44s %19s %19s %9s\n", "per call", "guest->host", "host->guest", "ratio");
  for (const std::size_t bytes : {std::size_t{64}, std::size_t{64} << 10, std::size_t{1} << 20}) {
    const int count = bytes >= (1U << 20) ? 50 : 2000;
    const double exported = per_export_call(echo, bytes, count);
    const std::string size = bytes >= (1U << 20) ? "1 MiB" : bytes >= 1024 ? "64 KiB" : "64 B";
    const std::string send = "send " + size + " (guest import)";
    const std::string set = "storage.set " + size + " (guest import)";
    bench::print_ratio_row(44, send.c_str(), per_import_call(pump, "send", bytes, count), exported,
                           "us", "handle-message echo, same size");
    bench::print_ratio_row(44, set.c_str(), per_import_call(pump, "set", bytes, count), exported,
                           "us", "handle-message echo, same size");
  }
  std::printf("\nbytes accepted by the host: %llu\n", static_cast<unsigned long long>(host->bytes));
  return 0;
}
