// Repeated identical log lines: written once, then counted and summarised.
#include "repeat_filter.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace capsule::component {
namespace {

using Clock = RepeatFilter::Clock;
using std::chrono::seconds;

struct Collected {
  std::vector<RepeatFilter::Summary> summaries;
  auto sink() {
    return [this](const RepeatFilter::Summary& s) { summaries.push_back(s); };
  }
};

TEST(RepeatFilter, TheFirstLinePassesAndItsRepeatsAreCountedThenSummarisedOnce) {
  RepeatFilter filter(seconds(10));
  Collected out;
  const auto t0 = Clock::now();
  EXPECT_TRUE(filter.pass("a/b/0 is gone", t0, out.sink()));
  for (int i = 1; i <= 1000; ++i) {
    EXPECT_FALSE(filter.pass("a/b/0 is gone", t0 + std::chrono::milliseconds(i), out.sink()));
  }
  EXPECT_TRUE(out.summaries.empty()) << "nothing is reported while the window lasts";
  // The window ended: the next occurrence is written again, after the summary of the last one.
  EXPECT_TRUE(filter.pass("a/b/0 is gone", t0 + seconds(11), out.sink()));
  ASSERT_EQ(out.summaries.size(), 1u);
  EXPECT_EQ(out.summaries[0].repeats, 1000u);
  EXPECT_EQ(out.summaries[0].first, t0 + std::chrono::milliseconds(1));
  EXPECT_EQ(out.summaries[0].last, t0 + std::chrono::milliseconds(1000));
  EXPECT_NE(describe_repeats(out.summaries[0]).find("repeated 1000 more times"), std::string::npos);
}

TEST(RepeatFilter, DistinctLinesAreIndependent) {
  RepeatFilter filter(seconds(10));
  Collected out;
  const auto t0 = Clock::now();
  EXPECT_TRUE(filter.pass("one", t0, out.sink()));
  EXPECT_TRUE(filter.pass("two", t0, out.sink()));
  EXPECT_FALSE(filter.pass("one", t0 + seconds(1), out.sink()));
  EXPECT_TRUE(filter.pass("three", t0 + seconds(1), out.sink()));
}

TEST(RepeatFilter, FlushReportsRepeatsThatStoppedAndNothingTwice) {
  RepeatFilter filter(seconds(10));
  Collected out;
  const auto t0 = Clock::now();
  ASSERT_TRUE(filter.pass("burst", t0, out.sink()));
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(filter.pass("burst", t0 + seconds(1), out.sink()));
  ASSERT_TRUE(filter.pass("single", t0, out.sink()));
  filter.flush(t0 + seconds(5), out.sink());
  EXPECT_TRUE(out.summaries.empty()) << "the window has not ended";
  filter.flush(t0 + seconds(10), out.sink());
  ASSERT_EQ(out.summaries.size(), 1u) << "a line that never repeated needs no summary";
  EXPECT_EQ(out.summaries[0].key, "burst");
  EXPECT_EQ(out.summaries[0].repeats, 5u);
  filter.flush(t0 + seconds(30), out.sink());
  EXPECT_EQ(out.summaries.size(), 1u);
  EXPECT_TRUE(filter.pass("burst", t0 + seconds(31), out.sink())) << "forgotten after its summary";
}

TEST(RepeatFilter, ManyDistinctLinesAreBoundedAndEndedWindowsReported) {
  RepeatFilter filter(seconds(10), 4);
  Collected out;
  const auto t0 = Clock::now();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(filter.pass("line " + std::to_string(i), t0, out.sink()));
  ASSERT_FALSE(filter.pass("line 0", t0 + seconds(1), out.sink()));
  // Full, and no window ended: a new kind of line is written but not tracked.
  EXPECT_TRUE(filter.pass("line 4", t0 + seconds(2), out.sink()));
  EXPECT_TRUE(filter.pass("line 4", t0 + seconds(3), out.sink()));
  // Once windows end, their repeats are reported and room is made.
  EXPECT_TRUE(filter.pass("line 5", t0 + seconds(12), out.sink()));
  ASSERT_EQ(out.summaries.size(), 1u);
  EXPECT_EQ(out.summaries[0].key, "line 0");
  EXPECT_FALSE(filter.pass("line 5", t0 + seconds(13), out.sink()));
}

}  // namespace
}  // namespace capsule::component
