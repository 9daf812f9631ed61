// Errors a person can act on: a component that cannot start is refused at load naming each
// import this host lacks; compile errors carry Wasmtime's whole chain; running out of memory is
// reported as the memory limit whatever trap the guest's runtime ends with.
#include <algorithm>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>

#include "component_fixture.hpp"

namespace capsule::wasm {
namespace {

using namespace capsule::wasm::testing;

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
}

class LoadRefusal : public ::testing::Test {
 protected:
  std::shared_ptr<WasmEngine> engine = make_engine();
};

TEST_F(LoadRefusal, ComponentImportingWhatTheHostLacksIsRefusedNamingTheImport) {
  auto r = engine->load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / "incompatible" /
                             "needs_keyvalue.wasm");
  ASSERT_FALSE(r) << "a component importing wasi:keyvalue/store loaded";
  EXPECT_EQ(r.error().code, ErrorCode::kIncompatible) << r.error().describe();
  const auto& m = r.error().message;
  EXPECT_NE(m.find("needs_keyvalue.wasm"), std::string::npos) << m;
  EXPECT_NE(m.find("missing import: wasi:keyvalue/store@0.2.0-draft2"), std::string::npos) << m;
  // Wasmtime's own check stops at the first; both are named.
  EXPECT_NE(m.find("missing import: wasi:keyvalue/atomics@0.2.0-draft2"), std::string::npos) << m;
  // Only those imports: everything else it uses (WASI, capsule:core) is linked.
  EXPECT_EQ(m.find("missing import: wasi:cli"), std::string::npos) << m;
  EXPECT_EQ(m.find("missing import: capsule:core"), std::string::npos) << m;
}

TEST_F(LoadRefusal, ComponentsThisHostCanRunStillLoad) {
  for (const char* name : {"echo", "hog", "oom_abort", "probe", "sleeper"}) {
    auto r = engine->load_file(component_path(name));
    EXPECT_TRUE(r) << name << ": " << r.error().describe();
  }
}

TEST_F(LoadRefusal, CompileErrorsCarryTheWholeChainAndTheFileName) {
  auto echo = read_bytes(component_path("echo"));
  ASSERT_GT(echo.size(), 1000U);
  echo.resize(echo.size() / 2);
  const std::vector<std::uint8_t> core_module{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  for (const auto& [bytes, name] : {std::pair{echo, std::string("half-echo.wasm")},
                                    std::pair{core_module, std::string("core-module.wasm")}}) {
    auto r = engine->load(bytes, name);
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kCompileFailed) << r.error().describe();
    const auto& m = r.error().message;
    EXPECT_NE(m.find(name), std::string::npos) << m;
    EXPECT_GE(line_count(m), 2U) << "only the top line of Wasmtime's error: " << m;
    EXPECT_NE(m.find("\n  caused by: "), std::string::npos) << m;
  }
}

// oom_abort never calls the SDK's capsule_guest_out_of_memory: malloc returns NULL and it calls
// abort(), a plain `unreachable`. The limiter's record still makes it the memory limit.
TEST_F(LoadRefusal, OutOfMemoryThroughAbortIsTheMemoryLimit) {
  auto compiled = load(*engine, "oom_abort");
  auto inst = engine->instantiate(
      *compiled,
      {id_of("oom_abort"), ResourceLimits{8ULL << 20, 0, std::chrono::milliseconds{0}}, nullptr});
  ASSERT_TRUE(inst) << inst.error().describe();
  ASSERT_TRUE(inst->init({}));
  auto r = inst->handle_message(message_with(Payload::text("eat")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kMemoryLimit) << r.error().describe();
  const auto& m = r.error().message;
  EXPECT_NE(m.find("exceeded its memory limit of 8 MiB"), std::string::npos) << m;
  EXPECT_NE(m.find("a memory.grow to "), std::string::npos) << m;
  EXPECT_NE(m.find("oom_abort"), std::string::npos) << m;
}

// A trap with no refused grow before it stays a trap.
TEST_F(LoadRefusal, PlainTrapIsNotTheMemoryLimit) {
  auto compiled = load(*engine, "trap");
  auto inst = engine->instantiate(*compiled, {id_of("trap"), {}, nullptr});
  ASSERT_TRUE(inst) << inst.error().describe();
  ASSERT_TRUE(inst->init({}));
  auto r = inst->handle_message(message_with(Payload::text("boom")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTrap) << r.error().describe();
}

}  // namespace
}  // namespace capsule::wasm
