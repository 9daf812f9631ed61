#include "trap_classifier.hpp"

#include <gtest/gtest.h>

namespace capsule::wasm {
namespace {

// Messages in the shape Wasmtime 48 produces (cause line, then "Caused by"/backtrace lines).
TEST(TrapClassifier, FuelExhaustion) {
  EXPECT_EQ(classify_call_failure(
                "error while executing at wasm backtrace:\n    0: 0x1a2 - "
                "spin.wasm!handle\n\nCaused by:\n    wasm trap: all fuel consumed by WebAssembly"),
            ErrorCode::kOutOfFuel);
}

TEST(TrapClassifier, EpochInterrupt) {
  EXPECT_EQ(
      classify_call_failure("error while executing at wasm backtrace:\n    0: 0x1a2 - "
                            "<unknown>!<wasm function 7>\n\nCaused by:\n    wasm trap: interrupt"),
      ErrorCode::kInterrupted);
}

TEST(TrapClassifier, GuestOutOfMemoryFrame) {
  EXPECT_EQ(
      classify_call_failure("error while executing at wasm backtrace:\n    0: 0x2f1 - "
                            "hog.wasm!capsule_guest_out_of_memory\n    1: 0x3a0 - "
                            "hog.wasm!exports_capsule_core_lifecycle_handle_message\n\nCaused "
                            "by:\n    wasm trap: wasm `unreachable` instruction executed"),
      ErrorCode::kMemoryLimit);
}

TEST(TrapClassifier, ReallocFailureWhileLowering) {
  EXPECT_EQ(classify_call_failure("error while executing at wasm backtrace:\n    0: 0x10 - "
                                  "x.wasm!abort\n    1: 0x20 - x.wasm!cabi_realloc\n\nCaused by:\n "
                                  "   wasm trap: wasm `unreachable` instruction executed"),
            ErrorCode::kMemoryLimit);
}

TEST(TrapClassifier, InitialMemoryAboveLimit) {
  EXPECT_EQ(classify_call_failure("memory minimum size of 300 pages exceeds memory limits"),
            ErrorCode::kMemoryLimit);
}

TEST(TrapClassifier, PlainTrap) {
  EXPECT_EQ(
      classify_call_failure("error while executing at wasm backtrace:\n    0: 0x99 - "
                            "trap.wasm!exports_capsule_core_lifecycle_handle_message\n\nCaused "
                            "by:\n    wasm trap: wasm `unreachable` instruction executed"),
      ErrorCode::kTrap);
  EXPECT_EQ(classify_call_failure("wasm trap: out of bounds memory access"), ErrorCode::kTrap);
}

TEST(TrapClassifier, NonTrapErrorsAreInternal) {
  EXPECT_EQ(classify_call_failure("expected 1 argument, got 0"), ErrorCode::kInternal);
}

TEST(TrapClassifier, FirstLineDropsBacktrace) {
  EXPECT_EQ(first_line("cause here\n  0: frame"), "cause here");
  EXPECT_EQ(first_line("single"), "single");
}

TEST(TrapClassifier, RootCauseIsTheLastCausedByLine) {
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
