#include "wit_compatibility.hpp"

#include <gtest/gtest.h>

namespace capsule::wasm {
namespace {

ComponentInterfaces good() {
  return {{"capsule:core/types@0.1.0", "capsule:core/messaging@0.1.0"},
          {"capsule:core/lifecycle@0.1.0"}};
}

TEST(WitCompatibility, AcceptsOwnVersionAndPatchLevels) {
  EXPECT_TRUE(check_wit_compatibility("echo.wasm", good()));
  auto patched = good();
  patched.exports = {"capsule:core/lifecycle@0.1.7"};
  EXPECT_TRUE(check_wit_compatibility("echo.wasm", patched));
}

TEST(WitCompatibility, RejectsOtherMinorVersionNamingBoth) {
  auto v2 = good();
  v2.exports = {"capsule:core/lifecycle@0.2.0"};
  auto s = check_wit_compatibility("echo-v2.wasm", v2);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kIncompatible);
  EXPECT_NE(s.error().message.find("echo-v2.wasm"), std::string::npos);
  EXPECT_NE(s.error().message.find("capsule:core@0.2.0"), std::string::npos);
  EXPECT_NE(s.error().message.find("capsule:core@0.1.3"), std::string::npos);
}

TEST(WitCompatibility, RejectsNewerImportVersion) {
  auto v = good();
  v.imports = {"capsule:core/storage@1.0.0"};
  auto s = check_wit_compatibility("x", v);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("capsule:core/storage@1.0.0"), std::string::npos);
}

TEST(WitCompatibility, RejectsForeignImportsButAllowsWasi) {
  auto v = good();
  v.imports.push_back("wasi:cli/environment@0.2.6");
  EXPECT_TRUE(check_wit_compatibility("x", v));
  v.imports.push_back("acme:secrets/vault@1.0.0");
  auto s = check_wit_compatibility("x", v);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("acme:secrets/vault@1.0.0"), std::string::npos);
}

TEST(WitCompatibility, RejectsUnknownCapsuleInterface) {
  auto v = good();
  v.imports.push_back("capsule:core/teleport@0.1.0");
  EXPECT_FALSE(check_wit_compatibility("x", v));
}

TEST(WitCompatibility, RequiresLifecycleExport) {
  ComponentInterfaces v{{}, {"wasi:cli/run@0.2.0"}};
  auto s = check_wit_compatibility("cli.wasm", v);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("does not export capsule:core/lifecycle@0.1.3"),
            std::string::npos);
}

TEST(WitCompatibility, SemverRules) {
  EXPECT_TRUE(versions_compatible("0.1.0", "0.1.3"));
  EXPECT_FALSE(versions_compatible("0.1.0", "0.2.0"));
  EXPECT_TRUE(versions_compatible("1.2.0", "1.5.1"));
  EXPECT_FALSE(versions_compatible("1.2.0", "2.0.0"));
  EXPECT_FALSE(versions_compatible("0.1.0", ""));
}

TEST(WitCompatibility, ParsesInterfaceNames) {
  auto n = parse_interface_name("capsule:core/lifecycle@0.1.0");
  EXPECT_EQ(n.package, "capsule:core");
  EXPECT_EQ(n.interface, "lifecycle");
  EXPECT_EQ(n.version, "0.1.0");
  EXPECT_TRUE(parse_interface_name("plain-func").package.empty());
}

}  // namespace
}  // namespace capsule::wasm
