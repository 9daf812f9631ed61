#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <capsule/security/access_guard.hpp>
#include <capsule/security/audit.hpp>

namespace capsule::security {
namespace {

TEST(Audit, JsonLineEscapesEverything) {
  AuditRecord r{Clock::time_point{std::chrono::milliseconds(1'700'000'000'123)},
                ComponentId{"a", "b", "0"},
                Action::kStorageRead,
                "k\"\\\n\x01",
                false,
                "why"};
  EXPECT_EQ(to_json_line(r),
            R"({"ts":"2023-11-14T22:13:20.123Z","who":"a/b/0","action":"storage.read",)"
            R"("target":"k\"\\\n\u0001","allowed":false,"reason":"why"})");
}

TEST(Audit, GuardAuditsDenialsAndReturnsTypedError) {
  auto policy = std::make_shared<PolicyEngine>();
  auto sink = std::make_shared<MemoryAuditSink>();
  AccessGuard guard(policy, sink, {});
  const ComponentId who{"x", "y", "0"};
  Status s = guard.authorize(who, Action::kSend, "x/z/0");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(s.error().message.find("x/y/0 may not messaging.send 'x/z/0'"), std::string::npos);
  EXPECT_TRUE(guard.authorize(who, Action::kTime, "wall"));  // allowed: not audited by default
  auto records = sink->records();
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records[0].who, who);
  EXPECT_EQ(records[0].action, Action::kSend);
  EXPECT_EQ(records[0].target, "x/z/0");
  EXPECT_FALSE(records[0].allowed);

  AccessGuard all(policy, sink, {.audit_allowed = true});
  EXPECT_TRUE(all.authorize(who, Action::kTime, "wall"));
  EXPECT_EQ(sink->records().size(), 2U);
  EXPECT_EQ(sink->denied_count(), 1U);
}

TEST(Audit, NoPolicyMeansNoChecks) {
  AccessGuard guard(nullptr, nullptr, {});
  EXPECT_FALSE(guard.enforcing());
  EXPECT_TRUE(guard.authorize({"a", "b", "0"}, Action::kNetworkConnect, "evil:443"));
}

TEST(Audit, JsonLinesFileFromManyThreads) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("capsule_audit_" + std::to_string(::getpid()) + ".jsonl");
  std::filesystem::remove(path);
  {
    auto sink = JsonLinesAuditSink::open(path);
    ASSERT_TRUE(sink) << sink.error().describe();
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 100; ++i) {
          (*sink)->record(AuditRecord{Clock::now(), ComponentId{"n", "c", std::to_string(t)},
                                      Action::kPublish, "topic", false, "r"});
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    ASSERT_EQ(line.front(), '{');
    ASSERT_EQ(line.back(), '}');
    ASSERT_NE(line.find(R"("action":"messaging.publish")"), std::string::npos);
  }
  EXPECT_EQ(lines, 400);
  std::filesystem::remove(path);
  EXPECT_FALSE(JsonLinesAuditSink::open("/nonexistent-dir/audit.jsonl"));
}

std::filesystem::perms permissions_of(const std::filesystem::path& path) {
  return std::filesystem::status(path).permissions() & std::filesystem::perms::mask;
}

// The audit log names callers and their denials: only its owner may read it, whatever the umask,
// and one left world-readable by an older version is tightened when opened.
TEST(Audit, JsonLinesFileIsOwnerOnly) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("capsule_audit_mode_" + std::to_string(::getpid()) + ".jsonl");
  std::filesystem::remove(path);
  const mode_t old_umask = ::umask(0);  // the most permissive umask: 0600 must come from open()
  auto sink = JsonLinesAuditSink::open(path);
  ::umask(old_umask);
  ASSERT_TRUE(sink) << sink.error().describe();
  EXPECT_EQ(permissions_of(path),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  sink->reset();

  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                std::filesystem::perms::group_read | std::filesystem::perms::others_read);
  auto reopened = JsonLinesAuditSink::open(path);
  ASSERT_TRUE(reopened) << reopened.error().describe();
  EXPECT_EQ(permissions_of(path),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace capsule::security
