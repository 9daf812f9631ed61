#include <fstream>
#include <gtest/gtest.h>
#include <thread>
#include <vector>

#include "component_fixture.hpp"

namespace capsule::wasm {
namespace {

using namespace capsule::wasm::testing;

class ComponentCacheTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("capsule-cache-test-" + std::to_string(::getpid()) + "-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { std::filesystem::remove_all(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }

  EngineConfig cached() {
    EngineConfig c;
    c.cache_dir = dir;
    return c;
  }

  static void expect_echo(WasmEngine& engine, const CompiledComponent& compiled) {
    auto inst = engine.instantiate(compiled, {id_of("echo"), {}, nullptr});
    ASSERT_TRUE(inst) << inst.error().describe();
    auto r = inst->handle_message(message_with(Payload::text("cached")));
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ((*r)->as_string(), "cached");
  }
};

TEST_F(ComponentCacheTest, SecondEngineLoadsPrecompiledArtifact) {
  {
    auto engine = make_engine(cached());
    auto c = load(*engine, "echo");
    ASSERT_TRUE(c);
    EXPECT_FALSE(c->from_cache());
    EXPECT_EQ(engine->stats().compiles, 1u);
    EXPECT_EQ(engine->stats().cache_misses, 1u);
  }
  auto engine = make_engine(cached());
  auto c = load(*engine, "echo");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->from_cache());
  EXPECT_EQ(engine->stats().compiles, 0u);
  EXPECT_EQ(engine->stats().cache_hits, 1u);
  expect_echo(*engine, *c);
}

// Threads of one engine (the same pid) compiling the same component write the same artifact at
// once: each writes its own temp file, one rename wins, and what is left is whole and loadable.
TEST_F(ComponentCacheTest, ConcurrentWritersOfOneArtifactLeaveOneWholeFile) {
  {
    auto engine = make_engine(cached());
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] { EXPECT_TRUE(load(*engine, "echo")); });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(engine->stats().cache_write_failures, 0u);
  }
  std::size_t artifacts = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().extension(), ".cwasm") << "a temp file was left: " << entry.path();
    ++artifacts;
  }
  EXPECT_EQ(artifacts, 1u);
  auto engine = make_engine(cached());
  auto c = load(*engine, "echo");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->from_cache());
  expect_echo(*engine, *c);
}

TEST_F(ComponentCacheTest, CorruptArtifactIsRecompiledAndReplaced) {
  std::string hash;
  {
    auto engine = make_engine(cached());
    auto c = load(*engine, "echo");
    ASSERT_TRUE(c);
    hash = c->content_hash();
  }
  ASSERT_EQ(hash.size(), 64u);
  std::filesystem::path artifact;
  for (const auto& e : std::filesystem::directory_iterator(dir)) artifact = e.path();
  ASSERT_NE(artifact.filename().string().find(hash), std::string::npos);
  std::ofstream(artifact, std::ios::binary | std::ios::trunc) << "not an artifact";

  auto engine = make_engine(cached());
  auto c = load(*engine, "echo");
  ASSERT_TRUE(c) << "a corrupt cache file must never make a component unloadable";
  EXPECT_FALSE(c->from_cache());
  EXPECT_EQ(engine->stats().compiles, 1u);
  expect_echo(*engine, *c);
  EXPECT_GT(std::filesystem::file_size(artifact), 1000u) << "artifact rewritten";
}

TEST_F(ComponentCacheTest, DifferentBytesGetDifferentEntries) {
  auto engine = make_engine(cached());
  auto a = load(*engine, "echo");
  auto b = load(*engine, "counter");
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->content_hash(), b->content_hash());
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 2u);
}

}  // namespace
}  // namespace capsule::wasm
