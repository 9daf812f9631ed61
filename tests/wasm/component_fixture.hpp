#pragma once

#include <filesystem>
#include <gtest/gtest.h>
#include <memory>
#include <string>

#include <capsule/wasm/engine.hpp>

namespace capsule::wasm::testing {

// Paths of the example components built by guest/CMakeLists.txt.
inline std::filesystem::path component_path(const std::string& name) {
  return std::filesystem::path(CAPSULE_COMPONENTS_DIR) / (name + ".wasm");
}

inline std::shared_ptr<WasmEngine> make_engine(EngineConfig config = {}) {
  auto engine = WasmEngine::create(std::move(config));
  EXPECT_TRUE(engine) << engine.error().describe();
  return engine ? *engine : nullptr;
}

inline std::shared_ptr<const CompiledComponent> load(WasmEngine& engine, const std::string& name) {
  auto c = engine.load_file(component_path(name));
  EXPECT_TRUE(c) << c.error().describe();
  return c ? *c : nullptr;
}

inline ComponentId id_of(const std::string& name, int instance = 0) {
  return ComponentId{"test", name, std::to_string(instance)};
}

inline ComponentMessage message_with(Payload p) {
  return ComponentMessage{ComponentId{"test", "driver", "0"}, std::move(p), std::nullopt,
                          std::nullopt};
}

}  // namespace capsule::wasm::testing
