#include "error_text.hpp"

#include <gtest/gtest.h>

namespace capsule::wasm {
namespace {

TEST(ErrorText, FirstLineDropsBacktrace) {
  EXPECT_EQ(first_line("cause here\n  0: frame"), "cause here");
  EXPECT_EQ(first_line("single"), "single");
}

TEST(ErrorText, RootCauseIsTheLastCausedByLine) {
  EXPECT_EQ(
      root_cause(
          "error while executing at wasm backtrace:\n    0: 0x4f1 - trap.core.wasm!f\n\nCaused "
          "by:\n    wasm trap: wasm `unreachable` instruction executed"),
      "wasm trap: wasm `unreachable` instruction executed");
  EXPECT_EQ(root_cause("outer\n\nCaused by:\n    0: middle\n    1: innermost"), "innermost");
  EXPECT_EQ(root_cause("no chain here\nsecond"), "no chain here");
}

}  // namespace
}  // namespace capsule::wasm
