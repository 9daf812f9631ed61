// ComponentRuntime's log: lines from components and the host, with repeats summarised.
#include <cstdio>

#include <capsule/component/component_runtime.hpp>

#include "repeat_filter.hpp"

namespace capsule::component {

namespace {

// A RepeatFilter key: the level (one character), who, and the text.
constexpr char kKeySeparator = '\x1f';

std::string repeat_key(const ComponentId& who, wasm::LogLevel level, const std::string& message) {
  std::string key(1, static_cast<char>('0' + static_cast<int>(level)));
  key += who.to_string();
  key += kKeySeparator;
  key += message;
  return key;
}

}  // namespace

void ComponentRuntime::log(const ComponentId& who, wasm::LogLevel level, const std::string& message,
                           const wasm::KeyValues& fields) const {
  const bool write = repeats_->pass(repeat_key(who, level, message), RepeatFilter::Clock::now(),
                                    [this](const RepeatFilter::Summary& s) { log_repeats(s); });
  if (write) write_log(who, level, message, fields);
}

void ComponentRuntime::log_repeats(const RepeatFilter::Summary& s) const {
  const auto level = static_cast<wasm::LogLevel>(s.key.front() - '0');
  const auto separator = s.key.find(kKeySeparator);
  auto who = ComponentId::parse(std::string_view(s.key).substr(1, separator - 1));
  // The line is written when the next one arrives, possibly long after the repeats: the fields
  // say when they happened, for readers that order events by time (the text has seconds only).
  const auto epoch_ms = [](RepeatFilter::Clock::time_point t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  };
  write_log(who ? *who : privileged_caller(), level,
            s.key.substr(separator + 1) + " [" + describe_repeats(s) + "]",
            {{"repeat_first_ts", epoch_ms(s.first)}, {"repeat_last_ts", epoch_ms(s.last)}});
}

void ComponentRuntime::write_log(const ComponentId& who, wasm::LogLevel level,
                                 const std::string& message, const wasm::KeyValues& fields) const {
  if (config_.log_sink) {
    config_.log_sink(who, level, message, fields);
    return;
  }
  std::fprintf(stderr, "%s\n", wasm::format_log_line(who, level, message, fields).c_str());
}

}  // namespace capsule::component
