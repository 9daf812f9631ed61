// Strings a guest hands the host: every path gets invalid UTF-8, and log text tries to pass for
// the host's own lines. The canonical ABI's lifting refuses a bad string before any host code
// sees it: the guest's call ends, its requester gets invalid-argument, the instance restarts.
#include "hostile_fixture.hpp"

namespace capsule::hostile {
namespace {

using security::Action;
using StringAttack = HostileFixture;

void expect_refused_as_invalid_utf8(HostileFixture& f, const ComponentId& id) {
  auto outcome = f.attack(id);
  ASSERT_FALSE(outcome) << outcome->as_string();
  EXPECT_EQ(outcome.error().code, ErrorCode::kInvalidArgument) << outcome.error().describe();
  EXPECT_NE(outcome.error().message.find("UTF-8"), std::string::npos) << outcome.error().describe();
  EXPECT_NE(outcome.error().message.find("test/hostile/0"), std::string::npos)
      << outcome.error().describe();
  for (const auto& line : f.log_lines()) {
    EXPECT_EQ(line.find("\xff"), std::string::npos) << "the bad bytes reached the log";
  }
  f.expect_nothing_else_changed();
}

TEST_F(StringAttack, InvalidUtf8LogText) {
  expect_refused_as_invalid_utf8(*this, hostile("utf8-log"));
}

TEST_F(StringAttack, InvalidUtf8LogField) {
  expect_refused_as_invalid_utf8(*this, hostile("utf8-log-field"));
}

TEST_F(StringAttack, InvalidUtf8Topic) {
  expect_refused_as_invalid_utf8(*this,
                                 hostile("utf8-publish", grants({{Action::kPublish, "**", {}}})));
}

TEST_F(StringAttack, InvalidUtf8SubscribeTopic) {
  expect_refused_as_invalid_utf8(
      *this, hostile("utf8-subscribe", grants({{Action::kSubscribe, "**", {}}})));
}

TEST_F(StringAttack, InvalidUtf8TargetId) {
  expect_refused_as_invalid_utf8(*this,
                                 hostile("utf8-target", grants({{Action::kSend, "**", {}}})));
}

TEST_F(StringAttack, InvalidUtf8StorageKey) {
  expect_refused_as_invalid_utf8(*this,
                                 hostile("utf8-key", grants({{Action::kStorageWrite, "**", {}}})));
}

TEST_F(StringAttack, InvalidUtf8ErrorTextOfAReply) {
  // The requester is told what happened; it is not failed with the responder's bytes.
  expect_refused_as_invalid_utf8(*this, hostile("utf8-error"));
}

TEST_F(StringAttack, InvalidUtf8InitErrorFailsTheStartWithAClearError) {
  auto id = start_hostile("utf8-init-error");
  ASSERT_FALSE(id);
  EXPECT_NE(id.error().message.find("UTF-8"), std::string::npos) << id.error().describe();
  expect_nothing_else_changed();
}

TEST_F(StringAttack, InvalidUtf8MetadataFailsTheStart) {
  auto id = start_hostile("utf8-metadata");
  ASSERT_FALSE(id);
  EXPECT_NE(id.error().message.find("UTF-8"), std::string::npos) << id.error().describe();
  expect_nothing_else_changed();
}

TEST_F(StringAttack, LogTextCannotForgeHostLines) {
  const ComponentId id = hostile("log-forge");
  ASSERT_EQ(report(id), "forged=2");
  int from_hostile = 0;
  for (const auto& line : log_lines()) {
    EXPECT_EQ(line.find('\n'), std::string::npos) << "a guest line was split: " << line;
    if (line.rfind("[test/hostile/0]", 0) == 0) ++from_hostile;
    if (line.find("innocent") != std::string::npos) {
      EXPECT_NE(line.find("innocent\\n2026"), std::string::npos) << line;
    }
    // Guest fields cannot claim the host's: they are marked as the guest's.
    if (line.find("claim to be") != std::string::npos) {
      EXPECT_EQ(line.find(" component=host/host/0"), std::string::npos) << line;
      EXPECT_NE(line.find("guest.component=host/host/0"), std::string::npos) << line;
    }
  }
  EXPECT_EQ(from_hostile, 2);
  expect_nothing_else_changed();
}

}  // namespace
}  // namespace capsule::hostile
