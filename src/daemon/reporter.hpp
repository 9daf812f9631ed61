#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace capsule::daemon {

enum class LogFormat : std::uint8_t { kText, kJson };

// Progress and log lines of `capsule run`: readable text for people, one JSON object per line
// for machines (--log-format json). Thread-safe: guest logs arrive from runtime threads.
class Reporter {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;
  using Tap =
      std::function<void(std::string_view level, std::string_view message, const Fields& fields)>;
  explicit Reporter(LogFormat format) : format_(format) {}
  // Also hands every line to `tap` (the dashboard's log tail). Set before other threads log.
  void set_tap(Tap tap) { tap_ = std::move(tap); }
  void line(std::string_view level, std::string_view message, const Fields& fields = {});
  void info(std::string_view message, const Fields& fields = {}) { line("info", message, fields); }
  void warn(std::string_view message, const Fields& fields = {}) { line("warn", message, fields); }
  void error(std::string_view message, const Fields& fields = {}) {
    line("error", message, fields);
  }

 private:
  LogFormat format_;
  Tap tap_;
  std::mutex mutex_;
};

}  // namespace capsule::daemon
