#pragma once

// What the wasi:http/proxy engine tests share: one engine per suite with the compile cache, and
// the small helpers of a request and a body.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <capsule/wasm/engine.hpp>
#include <capsule/wasm/http_proxy.hpp>

#include "component_fixture.hpp"

namespace capsule::wasm::testing {

inline std::string text_of(const std::vector<std::uint8_t>& b) {
  return {b.begin(), b.end()};
}

inline HttpRequest get(std::string path) {
  HttpRequest r;
  r.path_with_query = std::move(path);
  return r;
}

// Python's interpreter needs more than the engine's default 32 MiB per memory.
inline constexpr std::uint64_t kPythonMemory = 64ULL << 20;

class HttpProxyEngine : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EngineConfig config;
    // Each test runs in its own process (ctest): the compile cache makes all but the first
    // load of an 18 MB Python component a deserialize.
    config.cache_dir = CAPSULE_HTTP_PROXY_CACHE_DIR;
    engine_ = make_engine(config);
  }
  static void TearDownTestSuite() { engine_.reset(); }

  inline static std::shared_ptr<WasmEngine> engine_;
};

}  // namespace capsule::wasm::testing
