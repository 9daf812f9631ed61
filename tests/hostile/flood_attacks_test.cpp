// Floods: a hostile instance asks the host for as much as it can as fast as it can. Each flood
// stops at a per-instance quota (quota-exceeded, audited once per episode, not per call) while
// the canary keeps answering within 1 s.
#include "hostile_fixture.hpp"

namespace capsule::hostile {
namespace {

using security::Action;
using FloodAttack = HostileFixture;

// Audit records about quotas, and how many calls they say were refused.
std::vector<security::AuditRecord> quota_records(const security::MemoryAuditSink& audit) {
  std::vector<security::AuditRecord> out;
  for (auto& r : audit.records()) {
    if (r.reason.find("quota") != std::string::npos) out.push_back(r);
  }
  return out;
}

ResourceLimits with_quotas(GuestQuotas q) {
  ResourceLimits l;
  l.quotas = q;
  return l;
}

TEST_F(FloodAttack, SendFloodStopsAtTheMessageRate) {
  const ComponentId id = hostile("send-flood", grants({{Action::kSend, "test/canary/*", {}}}),
                                 with_quotas({.messages_per_second = 1000}));
  const std::string r = report(id);
  EXPECT_EQ(number(r, "tag"), kQuotaExceeded) << r;
  EXPECT_GE(number(r, "ok"), 900) << r;
  EXPECT_LE(number(r, "ok"), 1000 + 1000) << "one second's burst plus what refilled: " << r;
  EXPECT_NE(field(r, "first").find("messages_per_second"), std::string::npos) << r;
  const auto records = quota_records(*audit);
  EXPECT_GE(records.size(), 1U);
  EXPECT_LE(records.size(), 3U) << "a refusal is audited once per episode, not per call";
  expect_nothing_else_changed();
}

TEST_F(FloodAttack, QuotasAreTheComponentsNotEachInstances) {
  // Two instances of one component share its message rate: more instances are no more rate.
  auto ids =
      start_component("hostile", "hostile", grants({{Action::kSend, "test/canary/*", {}}}),
                      with_quotas({.messages_per_second = 1000}), {{"attack", "send-flood"}}, 2);
  ASSERT_TRUE(ids) << ids.error().describe();
  const auto start = std::chrono::steady_clock::now();
  const std::string first = report({"test", "hostile", "0"});
  const std::string second = report({"test", "hostile", "1"});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(number(first, "ok"), 900) << first;
  EXPECT_EQ(number(second, "tag"), kQuotaExceeded) << second;
  // One bucket: one second's burst plus what refilled while both ran (a bucket per instance
  // would let each take its own burst, 1000 more). Timed, so a slow build (ASan) still fits.
  EXPECT_LE(number(first, "ok") + number(second, "ok"), 1000 + 1000 * seconds + 50)
      << "the second instance found the bucket spent: " << first << " / " << second;
  expect_nothing_else_changed();
}

TEST_F(FloodAttack, RequestFloodStopsAtPendingRequests) {
  const ComponentId id =
      hostile("request-flood", grants({{Action::kRequest, "test/hostile/*", {}}}),
              with_quotas({.pending_requests = 100}));
  const std::string r = report(id);
  EXPECT_EQ(number(r, "ok"), 100) << r;
  EXPECT_EQ(number(r, "tag"), kQuotaExceeded) << r;
  EXPECT_NE(field(r, "first").find("pending_requests"), std::string::npos) << r;
  expect_nothing_else_changed();
}

TEST_F(FloodAttack, PublishFloodStopsAtTheMessageRate) {
  const ComponentId id = hostile("publish-flood", grants({{Action::kPublish, "**", {}}}),
                                 with_quotas({.messages_per_second = 500}));
  const std::string r = report(id);
  EXPECT_EQ(number(r, "tag"), kQuotaExceeded) << r;
  EXPECT_LE(number(r, "ok"), 1000) << r;
  expect_nothing_else_changed();
}

TEST_F(FloodAttack, SubscriptionFloodStopsAtTheSubscriptionQuota) {
  const ComponentId id = hostile("subscribe-flood", grants({{Action::kSubscribe, "**", {}}}));
  const std::string r = report(id);
  EXPECT_EQ(number(r, "ok"), 256) << "the host default: " << r;
  EXPECT_EQ(number(r, "tag"), kQuotaExceeded) << r;
  expect_nothing_else_changed();
}

TEST_F(FloodAttack, WideBroadcastIsRefusedWhole) {
  const ComponentId id = hostile("broadcast-wide", grants({{Action::kBroadcast, "**", {}}}));
  const std::string r = report(id);
  EXPECT_EQ(number(r, "ok"), 0) << r;
  EXPECT_EQ(number(r, "tag"), kQuotaExceeded) << r;
  EXPECT_EQ(number(r, "reached"), 0) << "nothing was delivered: " << r;
  EXPECT_NE(field(r, "first").find("broadcast_targets"), std::string::npos) << r;
  expect_nothing_else_changed();
}

TEST_F(FloodAttack, LogFloodIsCountedAndSummarisedNotWritten) {
  const ComponentId id = hostile("log-flood", {}, with_quotas({.log_lines_per_second = 50}));
  const std::string r = report(id);
  ASSERT_EQ(number(r, "logged"), 20000) << r;
  std::size_t written = 0;
  bool noticed = false;
  for (const auto& line : log_lines()) {
    if (line.find("xxxxxxxx") != std::string::npos) ++written;
    if (line.find("log rate limit") != std::string::npos) noticed = true;
  }
  EXPECT_GE(written, 40U);
  EXPECT_LE(written, 100U) << "50 lines/s, one second's burst plus refill";
  EXPECT_TRUE(noticed) << "the host says lines are being dropped";
  expect_nothing_else_changed();
}

TEST_F(FloodAttack, HugeLogLineIsCut) {
  const ComponentId id = hostile("log-huge", {}, {.memory_bytes = 64ULL << 20});
  const std::string r = report(id);
  ASSERT_EQ(number(r, "logged"), 1) << r;
  bool found = false;
  for (const auto& line : log_lines()) {
    if (line.find("xxxxxxxx") == std::string::npos) continue;
    found = true;
    EXPECT_LE(line.size(), 17U * 1024) << "a log line is cut at 16 KiB";
    EXPECT_NE(line.find("bytes cut"), std::string::npos);
  }
  EXPECT_TRUE(found);
  expect_nothing_else_changed();
}

TEST_F(FloodAttack, DenialFloodDoesNotBecomeAnAuditFlood) {
  const ComponentId id = hostile("denied-flood");
  const std::string r = report(id);
  EXPECT_EQ(number(r, "refused"), 20000) << r;
  EXPECT_EQ(number(r, "tag"), kPermissionDenied) << r;
  const auto records = audit->records();
  EXPECT_GE(records.size(), 1U);
  EXPECT_LE(records.size(), 60U) << "audit records are rate-limited per component";
  // The next record after the flood says how many were left out.
  std::this_thread::sleep_for(1100ms);
  static_cast<void>(report(id));
  bool summarised = false;
  for (const auto& rec : audit->records()) {
    if (rec.reason.find("similar records suppressed") != std::string::npos) summarised = true;
  }
  EXPECT_TRUE(summarised);
  expect_nothing_else_changed();
}

TEST_F(FloodAttack, StorageFloodStopsAtTheStorageQuota) {
  const auto quota = security::StorageQuota{.max_bytes = 64ULL * 1024, .max_keys = 1000};
  const ComponentId id =
      hostile("storage-flood",
              grants({{Action::kStorageWrite, "**", {}}, {Action::kStorageRead, "**", {}}}, quota));
  const std::string r = report(id);
  EXPECT_EQ(number(r, "tag"), kQuotaExceeded) << r;
  EXPECT_EQ(number(r, "ok"), 15) << "64 KiB / (4 KiB value + key): " << r;
  auto used = store->usage("test/hostile");
  ASSERT_TRUE(used);
  EXPECT_LE(used->bytes, quota.max_bytes);
  expect_nothing_else_changed();
}

TEST_F(FloodAttack, CancellingOtherRequestsIsNotFound) {
  // The host's own request to the canary is in flight while the hostile tries every id.
  const ComponentId id = hostile("cancel-others");
  auto pending = runtime->ask(canary, Payload::text("mine"), 10s);
  const std::string r = report(id);
  EXPECT_EQ(number(r, "ok"), 0) << r;
  EXPECT_EQ(number(r, "tag"), kNotFound) << r;
  auto mine = pending.get();
  ASSERT_TRUE(mine) << mine.error().describe();
  EXPECT_EQ(mine->as_string(), "mine");
  expect_nothing_else_changed();
}

}  // namespace
}  // namespace capsule::hostile
