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

TEST(ErrorText, ErrorChainKeepsEveryCauseOneLineEach) {
  EXPECT_EQ(error_chain("failed to parse\n\nCaused by:\n    0: middle\n    1: innermost"),
            "failed to parse\n  caused by: middle\n  caused by: innermost");
  EXPECT_EQ(error_chain("outer\n\nCaused by:\n    only cause (at offset 0x12)"),
            "outer\n  caused by: only cause (at offset 0x12)");
  EXPECT_EQ(error_chain("outer\n\nCaused by:\n    cause\n\nStack backtrace:\n   0: frame"),
            "outer\n  caused by: cause");
  EXPECT_EQ(error_chain("no chain"), "no chain");
}

}  // namespace
}  // namespace capsule::wasm
