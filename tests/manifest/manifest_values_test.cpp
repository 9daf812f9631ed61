// Values a manifest must refuse rather than bend: sizes that do not fit (no wrap-around), a
// storage quota that is not one (no silent default), and unknown fields in the tables nested in
// [grants] and capability entries. Every refusal names the file, the line and the value.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <limits>
#include <string>
#include <unistd.h>

#include "manifest/manifest.hpp"
#include "parse_text.hpp"

namespace capsule::manifest {
namespace {

using testing::error_of;
const auto parse = testing::parse_text;

// Lines 1-3.
const std::string kComponent = "[[component]]\nname = \"app/a\"\npath = \"a.wasm\"\n";

TEST(ManifestSizes, UnitsScaleAndTheLargestSizeIsOnePebibyte) {
  EXPECT_EQ(parse_size("4096"), 4096U);
  EXPECT_EQ(parse_size("16MiB"), 16U << 20);
  EXPECT_EQ(parse_size("2 GiB"), std::uint64_t{2} << 30);
  EXPECT_EQ(parse_size("1048576GiB"), std::uint64_t{1} << 50);
  EXPECT_EQ(parse_size("1125899906842624"), std::uint64_t{1} << 50);
  EXPECT_FALSE(parse_size("1125899906842625"));
  EXPECT_FALSE(parse_size("1048577GiB"));
}

TEST(ManifestSizes, AProductThatWouldWrapIsRefusedNotTruncated) {
  // 17179869185 GiB = 2^64 + 2^30 bytes: shifted in 64 bits it is 1 GiB.
  EXPECT_FALSE(parse_size("17179869185GiB"));
  EXPECT_FALSE(parse_size("18446744073709551617"));  // 2^64 + 1 digits alone
  EXPECT_FALSE(parse_size("99999999999999999999999MiB"));
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("MiB"));
  EXPECT_FALSE(parse_size("12TiB"));
}

TEST(ManifestSizes, EveryManifestSizeFieldNamesTheValueItRefuses) {
  const std::string bad = "\"17179869185GiB\"";
  const std::string tables[] = {
      kComponent + "[component.limits]\nmemory = " + bad + "\n",
      kComponent + "[component.limits]\nmax_payload = " + bad + "\n",
      kComponent + "[component.limits]\nlog_bytes_per_second = " + bad + "\n",
      "[host.quotas]\nlog_bytes_per_second = " + bad + "\n\n\n\n" + kComponent,
  };
  for (const auto& text : tables) {
    const std::string e = error_of(text);
    EXPECT_NE(e.find("17179869185GiB"), std::string::npos) << text << "\n" << e;
    EXPECT_TRUE(e.rfind("app.toml:5: ", 0) == 0 || e.rfind("app.toml:2: ", 0) == 0) << e;
  }
  const std::string http = kComponent +
                           "[http]\nlisten = \"127.0.0.1:0\"\n[[http.route]]\npath = \"/a\"\n"
                           "component = \"app/a\"\nmax_body = " +
                           bad + "\n";
  const std::string e = error_of(http);
  EXPECT_EQ(e.rfind("app.toml:9: http.route[0].max_body", 0), 0U) << e;
  EXPECT_NE(e.find("17179869185GiB"), std::string::npos) << e;
}

TEST(ManifestSizes, AWrappedMemoryLimitDoesNotReachTheSpec) {
  auto m = parse(kComponent + "[component.limits]\nmemory = \"17179869185GiB\"\n");
  ASSERT_FALSE(m) << "parsed as " << m->components.at(0).limits.memory_bytes << " bytes";
}

const std::string kGrant = kComponent + "[grants.\"app/a\"]\n";  // [grants] on line 4

// [host].kv_replicas: how many copies JetStream keeps of the buckets a host creates (1 to 5).
TEST(KvReplicas, OneByDefaultThreeWhenAskedAndNothingJetStreamRefuses) {
  auto m = parse(kComponent);
  ASSERT_TRUE(m) << m.error().describe();
  EXPECT_EQ(m->host.kv_replicas, 1);
  m = parse("[host]\nkv_replicas = 3\n" + kComponent);
  ASSERT_TRUE(m) << m.error().describe();
  EXPECT_EQ(m->host.kv_replicas, 3);
  for (const std::string value : {"0", "6", "-1", "\"3\"", "2.5"}) {
    std::string text = "[host]\nkv_replicas = " + value;
    text += "\n" + kComponent;
    const std::string e = error_of(text);
    EXPECT_EQ(e.rfind("app.toml:2: host.kv_replicas: expected 1 to 5", 0), 0U)
        << value << ": " << e;
  }
}

TEST(StorageQuota, AGrantedQuotaIsRead) {
  auto m = parse(kGrant + "storage_quota = { bytes = 2048, keys = 7 }\n");
  ASSERT_TRUE(m) << m.error().describe();
  EXPECT_EQ(m->components.at(0).permissions.storage_quota.max_bytes, 2048U);
  EXPECT_EQ(m->components.at(0).permissions.storage_quota.max_keys, 7U);
  m = parse(kGrant + "storage_quota = { bytes = \"4MiB\" }\n");
  ASSERT_TRUE(m) << m.error().describe();
  EXPECT_EQ(m->components.at(0).permissions.storage_quota.max_bytes, 4U << 20);
  EXPECT_EQ(m->components.at(0).permissions.storage_quota.max_keys,
            security::StorageQuota{}.max_keys);
}

TEST(StorageQuota, ABadValueIsAnErrorNotTheDefault) {
  for (const std::string value :
       {"bytes = -1", "bytes = 0", "keys = 0", "keys = -5", "keys = \"many\"", "bytes = true",
        "bytes = \"17179869185GiB\"", "keys = 1.5"}) {
    std::string text = kGrant + "storage_quota = { ";
    text += value + " }\n";
    const std::string e = error_of(text);
    EXPECT_EQ(e.rfind("app.toml:5: grants.\"app/a\".storage_quota.", 0), 0U) << value << ": " << e;
    const std::string shown = value.substr(value.find("= ") + 2);
    EXPECT_NE(e.find(shown), std::string::npos) << value << ": " << e;
  }
}

TEST(StorageQuota, UnknownFieldsAreNamedWithTheFieldsItKnows) {
  const std::string e = error_of(kGrant + "storage_quota = { bytes = 10, key = 3 }\n");
  EXPECT_EQ(e.rfind("app.toml:5: grants.\"app/a\".storage_quota.key: unknown field (known: "
                    "bytes, keys)",
                    0),
            0U)
      << e;
}

TEST(CapabilityEntries, AnEntryTableRefusesUnknownFields) {
  std::string e = error_of(kComponent +
                           "[component.capabilities]\n"
                           "\"messaging.send\" = [{ target = \"app/*\", expire = 2026-12-31 }]\n");
  EXPECT_EQ(e.rfind("app.toml:5: component 'app/a' capabilities.messaging.send.expire: unknown "
                    "field (known: target, expires)",
                    0),
            0U)
      << e;
  e = error_of(kGrant + "\"storage.write\" = [{ target = \"*\", until = 1 }]\n");
  EXPECT_EQ(e.rfind("app.toml:5: grants.\"app/a\".storage.write.until: unknown field", 0), 0U) << e;
}

TEST(SupervisionCounts, ACountBeyondItsTypeIsRefusedNotWrapped) {
  const std::string e = error_of(kComponent + "[component.supervision]\nmax_restarts = " +
                                 std::to_string(std::uint64_t{1} << 32) + "\n");
  EXPECT_EQ(e.rfind("app.toml:5: component 'app/a' supervision.max_restarts: ", 0), 0U) << e;
}

}  // namespace
}  // namespace capsule::manifest
