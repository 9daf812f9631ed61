// The dashboard's parts as units: the login door's codes and sessions, the cookie parser, the
// recent-events rings, and the rates computed between two snapshots (the end-to-end behaviour,
// browser included, is e2e.dashboard).
#include "daemon/dashboard.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>

#include "daemon/dashboard_door.hpp"
#include "daemon/recent_events.hpp"

namespace capsule::daemon {
namespace {

using nlohmann::json;

TEST(DashboardDoor, ACodeIsGoodOnceAndOnlyItself) {
  DashboardDoor door;
  auto code = door.issue_code();
  ASSERT_TRUE(code);
  EXPECT_EQ(code->size(), 64U);
  EXPECT_FALSE(door.exchange(std::string(64, '0')));
  EXPECT_FALSE(door.exchange(""));
  auto session = door.exchange(*code);
  ASSERT_TRUE(session);
  EXPECT_NE(*session, *code);
  EXPECT_TRUE(door.valid_session(*session));
  const auto again = door.exchange(*code);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kPermissionDenied);
  EXPECT_FALSE(door.valid_session(""));
  EXPECT_FALSE(door.valid_session(*code));
}

TEST(DashboardDoor, OutstandingCodesAreBoundedOldestFirst) {
  DashboardDoor door;
  std::vector<std::string> codes;
  codes.reserve(DashboardDoor::kMaxCodes + 3);
  for (std::size_t i = 0; i < DashboardDoor::kMaxCodes + 3; ++i)
    codes.push_back(*door.issue_code());
  // The three oldest went; every later one still works.
  for (std::size_t i = 0; i < 3; ++i) EXPECT_FALSE(door.exchange(codes[i])) << i;
  for (std::size_t i = 3; i < codes.size(); ++i) EXPECT_TRUE(door.exchange(codes[i])) << i;
}

TEST(DashboardDoor, TheCookieIsHttpOnlyStrictAndNamedAfterThePort) {
  const std::string c = DashboardDoor::set_cookie("abc", 7070);
  EXPECT_EQ(c.rfind("capsule_session_7070=abc;", 0), 0U) << c;
  for (const char* attr : {"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"}) {
    EXPECT_NE(c.find(attr), std::string::npos) << attr;
  }
}

TEST(HttpRequestCookie, FindsItsCookieAmongOthers) {
  HttpRequest r;
  r.headers = {{"cookie", "a=1; capsule_session_7070=s3cret;capsule_session_7071=other"}};
  EXPECT_EQ(r.cookie("capsule_session_7070"), "s3cret");
  EXPECT_EQ(r.cookie("capsule_session_7071"), "other");
  EXPECT_EQ(r.cookie("a"), "1");
  EXPECT_EQ(r.cookie("capsule_session_70"), "");
  EXPECT_EQ(HttpRequest{}.cookie("a"), "");
}

TEST(RecentEvents, KeepsTheLastOnesNumbered) {
  RecentEvents ring(3);
  for (int i = 0; i < 5; ++i) ring.push(json{{"n", i}});
  EXPECT_EQ(ring.last_seq(), 5U);
  const auto all = ring.since(0);
  ASSERT_EQ(all.size(), 3U);
  EXPECT_EQ(all.front()["n"], 2);
  EXPECT_EQ(all.back()["seq"], 5);
  EXPECT_TRUE(all.back().contains("ts"));
  EXPECT_EQ(ring.since(4).size(), 1U);
  EXPECT_TRUE(ring.since(5).empty());
}

json snapshot(std::int64_t ts_ms, std::uint64_t processed, std::uint64_t calls,
              std::uint64_t requests) {
  return json{
      {"ts_ms", ts_ms},
      {"instances",
       json::array({json{{"id", "demo/echo/0"}, {"processed", processed}, {"calls", calls}}})},
      {"requests", {{"started", requests}}}};
}

TEST(DashboardRates, FromTheCountersOfThePreviousSnapshot) {
  json first = snapshot(1'000, 10, 4, 7);
  add_rates(first, nullptr);
  EXPECT_EQ(first["instances"][0]["msg_rate"], 0.0);  // nothing to compare with yet
  json second = snapshot(3'000, 30, 8, 13);           // 2 s later
  add_rates(second, &first);
  EXPECT_DOUBLE_EQ(second["instances"][0]["msg_rate"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(second["instances"][0]["call_rate"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(second["rates"]["messages_per_s"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(second["rates"]["requests_per_s"].get<double>(), 3.0);
  // A restarted instance counts from 0: its new total, not a negative rate.
  json third = snapshot(4'000, 5, 1, 13);
  add_rates(third, &second);
  EXPECT_DOUBLE_EQ(third["instances"][0]["msg_rate"].get<double>(), 5.0);
  EXPECT_DOUBLE_EQ(third["rates"]["requests_per_s"].get<double>(), 0.0);
}

}  // namespace
}  // namespace capsule::daemon
