// Memories counted from a component's bytes, before any engine exists (engine sizing): real
// guests, hand-assembled binaries with imported, defined and nested memories, and bad bytes.
#include <cstdint>
#include <gtest/gtest.h>
#include <vector>

#include <capsule/wasm/component_shape.hpp>

#include "component_fixture.hpp"

namespace capsule::wasm {
namespace {

using Bytes = std::vector<std::uint8_t>;

void append(Bytes& to, const Bytes& from) {
  to.insert(to.end(), from.begin(), from.end());
}

// One section: id, size (one LEB128 byte: the bodies here are small), body.
Bytes section(std::uint8_t id, const Bytes& body) {
  EXPECT_LT(body.size(), 128u);
  Bytes out{id, static_cast<std::uint8_t>(body.size())};
  append(out, body);
  return out;
}

// A core module with `defined` memories of 1 page each, and one imported ("env" "memory").
Bytes core_module(std::uint8_t defined, bool imports_memory) {
  Bytes m{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  if (imports_memory) {
    // vec(1) import "env" "memory" (memory min 0)
    append(m, section(2, {0x01, 0x03, 'e', 'n', 'v', 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00,
                          0x00}));
  }
  if (defined != 0) {
    Bytes body{defined};
    for (std::uint8_t i = 0; i < defined; ++i) append(body, {0x00, 0x01});  // limits: min 1
    append(m, section(5, body));
  }
  return m;
}

Bytes component(const std::vector<Bytes>& sections) {
  Bytes c{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00};
  for (const auto& s : sections) append(c, s);
  return c;
}

TEST(ComponentShape, EveryGuestWeBuildDefinesOneMemory) {
  // The adapter of a wasip1 guest imports the main module's memory: not a second one.
  for (const char* name : {"echo", "counter", "hog", "sleeper"}) {
    auto shape = read_component_shape(testing::component_path(name));
    ASSERT_TRUE(shape) << name << ": " << shape.error().describe();
    EXPECT_EQ(shape->memories, 1u) << name;
  }
}

TEST(ComponentShape, DefinedMemoriesCountImportedOnesDoNot) {
  const Bytes bytes =
      component({section(1, core_module(2, false)), section(1, core_module(0, true)),
                 section(0, {0x01, 'x', 0x00})});  // a custom section, skipped
  auto shape = read_component_shape(bytes);
  ASSERT_TRUE(shape) << shape.error().describe();
  EXPECT_EQ(shape->memories, 2u);
}

TEST(ComponentShape, NestedComponentsCount) {
  const Bytes inner = component({section(1, core_module(1, true))});
  const Bytes bytes = component({section(1, core_module(1, false)), section(4, inner)});
  auto shape = read_component_shape(bytes);
  ASSERT_TRUE(shape) << shape.error().describe();
  EXPECT_EQ(shape->memories, 2u);
}

TEST(ComponentShape, BadBytesAreRefusedNotRead) {
  const Bytes good = component({section(1, core_module(1, false))});
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    const Bytes truncated(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
    if (cut == 8) {  // the preamble alone: an empty component, no memories
      auto empty = read_component_shape(truncated);
      ASSERT_TRUE(empty) << empty.error().describe();
      EXPECT_EQ(empty->memories, 0u);
      continue;
    }
    auto shape = read_component_shape(truncated);
    ASSERT_FALSE(shape) << "cut at " << cut;
    EXPECT_EQ(shape.error().code, ErrorCode::kInvalidArgument);
  }
  auto module = read_component_shape(core_module(1, false));
  ASSERT_FALSE(module);
  EXPECT_NE(module.error().message.find("core module?"), std::string::npos)
      << module.error().message;
  // A section size past the end, and a LEB128 number that never ends.
  Bytes oversized = component({});
  append(oversized, {0x01, 0xff, 0xff, 0x03});
  EXPECT_FALSE(read_component_shape(oversized));
  Bytes endless = component({});
  append(endless, {0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  EXPECT_FALSE(read_component_shape(endless));
  // Components nested past the depth bound.
  Bytes deep = component({section(1, core_module(1, false))});
  for (int i = 0; i < 20; ++i) {
    Bytes outer{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x04};
    std::uint32_t n = static_cast<std::uint32_t>(deep.size());
    do {  // LEB128 size: these outgrow one byte
      std::uint8_t b = n & 0x7f;
      n >>= 7;
      outer.push_back(n != 0 ? static_cast<std::uint8_t>(b | 0x80) : b);
    } while (n != 0);
    append(outer, deep);
    deep = std::move(outer);
  }
  auto too_deep = read_component_shape(deep);
  ASSERT_FALSE(too_deep);
  EXPECT_NE(too_deep.error().message.find("nested"), std::string::npos);
}

TEST(ComponentShape, AMissingFileIsNamed) {
  auto shape = read_component_shape(std::filesystem::path("/nonexistent/x.wasm"));
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code, ErrorCode::kNotFound);
  EXPECT_NE(shape.error().message.find("/nonexistent/x.wasm"), std::string::npos);
}

}  // namespace
}  // namespace capsule::wasm
