#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace capsule::component {

// Collapses repeated identical log lines: the first of a kind is written, the repeats within the
// next `window` are counted, and one summary line ("... repeated 1234 times in 10 s, first at
// 12:00:01, last at 12:00:11") replaces them. A component whose every message fails (its target
// gone) otherwise writes one line per message: 177k lines, 46 MB in two minutes in the demo.
// What RepeatFilter::pass() and flush() hand back: a summary to write instead of the repeats.
struct RepeatFilterSummary {
  std::string key;
  std::uint64_t repeats = 0;
  std::chrono::system_clock::time_point first;
  std::chrono::system_clock::time_point last;
};

class RepeatFilter {
 public:
  using Clock = std::chrono::system_clock;
  using Summary = RepeatFilterSummary;

  explicit RepeatFilter(std::chrono::seconds window = std::chrono::seconds{10},
                        std::size_t max_kinds = 4096)
      : window_(window), max_kinds_(max_kinds) {}

  // True: write this line now. False: it repeats one written within the window (counted).
  // `done` receives the summary of a window that ended, to write before this line.
  bool pass(const std::string& key, Clock::time_point now,
            const std::function<void(const Summary&)>& done);
  // Summaries of every window that has ended by `now` (e.g. from a periodic timer), so repeats
  // that stop are still reported.
  void flush(Clock::time_point now, const std::function<void(const Summary&)>& done);

 private:
  struct Seen {
    Clock::time_point window_start;
    Clock::time_point first_repeat;
    Clock::time_point last_repeat;
    std::uint64_t repeats = 0;
  };
  // Moves the summaries of windows that ended by `now` to `out` and forgets those lines.
  void take_ended(Clock::time_point now, std::vector<Summary>& out);

  std::chrono::seconds window_;
  std::size_t max_kinds_;
  std::mutex mutex_;
  std::unordered_map<std::string, Seen> seen_;
};

// "repeated 1234 times in 10 s (12:00:01 to 12:00:11)", appended to the line's own text.
[[nodiscard]] std::string describe_repeats(const RepeatFilter::Summary& s);

}  // namespace capsule::component
