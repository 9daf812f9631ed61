// libFuzzer target for the engine boundary's lifting path: guest/fuzz/fuzz_guest.c turns each
// input into values it hands the host (import arguments, handle-message results) with pointers,
// lengths, variant tags, enum values and string bytes taken from the input. The real engine
// (Wasmtime, the generated bindings in third_party/wasmtime-capi, src/wasm's host bridge) lifts
// them. Every outcome must be a reply or an error whose text is valid UTF-8; a crash, a sanitizer
// report or a Rust panic escaping is a finding. A failed instance is replaced, as the runtime
// does after a trap.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>

#include <capsule/core/text.hpp>
#include <capsule/wasm/engine.hpp>
#include <capsule/wasm/host_api.hpp>

namespace {

using namespace capsule;  // NOLINT(google-build-using-namespace): a fuzz driver

// The standalone host, minus its stderr log lines (a fuzzer logs thousands).
class QuietHost final : public wasm::StandaloneHostApi {
 public:
  using StandaloneHostApi::StandaloneHostApi;
  void log(wasm::LogLevel /*level*/, const std::string& message,
           const wasm::KeyValues& fields) override {
    check(message);
    for (const auto& [k, v] : fields) {
      check(k);
      check(v);
    }
  }
  static void check(const std::string& text) {
    if (!is_valid_utf8(text)) std::abort();  // a string reached host code without validation
  }
};

struct Harness {
  std::shared_ptr<wasm::WasmEngine> engine;
  std::shared_ptr<const wasm::CompiledComponent> component;
  std::optional<wasm::ComponentInstance> instance;

  Harness() {
    wasm::EngineConfig config;
    config.pooling.enabled = false;  // ASan and the pool's large reservations do not mix well
    config.default_limits.fuel_per_call = 50'000'000;
    config.default_limits.wall_time_per_call = std::chrono::milliseconds(2000);
    engine = *wasm::WasmEngine::create(config);
    auto c = engine->load_file(CAPSULE_FUZZ_GUEST);
    if (!c) std::abort();
    component = *c;
  }

  wasm::ComponentInstance& fresh_instance() {
    if (!instance || instance->failed()) {
      instance.reset();
      auto made = engine->instantiate(
          *component, {ComponentId{"fuzz", "guest", "0"},
                       {},
                       std::make_shared<QuietHost>(ComponentId{"fuzz", "guest", "0"})});
      if (!made) std::abort();
      instance.emplace(std::move(*made));
      if (!instance->init({})) std::abort();
    }
    return *instance;
  }
};

Harness& harness() {
  static Harness h;
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& instance = harness().fresh_instance();
  ComponentMessage message;
  message.sender = ComponentId{"fuzz", "driver", "0"};
  message.payload = Payload{0x55, std::vector<std::uint8_t>(data, data + size)};
  auto outcome = instance.handle_message(message);
  if (!outcome) {
    if (outcome.error().message.empty()) std::abort();
    QuietHost::check(outcome.error().message);
  }
  return 0;
}
