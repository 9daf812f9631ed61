#include "repeat_filter.hpp"

#include <ctime>
#include <vector>

namespace capsule::component {

void RepeatFilter::take_ended(Clock::time_point now, std::vector<Summary>& out) {
  for (auto s = seen_.begin(); s != seen_.end();) {
    if (now - s->second.window_start < window_) {
      ++s;
      continue;
    }
    if (s->second.repeats > 0) {
      out.push_back({s->first, s->second.repeats, s->second.first_repeat, s->second.last_repeat});
    }
    s = seen_.erase(s);
  }
}

bool RepeatFilter::pass(const std::string& key, Clock::time_point now,
                        const std::function<void(const Summary&)>& done) {
  std::vector<Summary> ended;
  bool write = true;
  {
    std::lock_guard lock(mutex_);
    auto it = seen_.find(key);
    if (it != seen_.end() && now - it->second.window_start < window_) {
      Seen& s = it->second;
      if (s.repeats == 0) s.first_repeat = now;
      s.last_repeat = now;
      ++s.repeats;
      write = false;
    } else {
      // This line's own window ended (its repeats go first), or it is new; when many distinct
      // lines are tracked, every ended window is reported and forgotten.
      if (it != seen_.end() || seen_.size() >= max_kinds_) take_ended(now, ended);
      if (seen_.size() < max_kinds_) seen_[key] = Seen{now, {}, {}, 0};
    }
  }
  for (const auto& s : ended) done(s);
  return write;
}

void RepeatFilter::flush(Clock::time_point now, const std::function<void(const Summary&)>& done) {
  std::vector<Summary> ended;
  {
    std::lock_guard lock(mutex_);
    take_ended(now, ended);
  }
  for (const auto& s : ended) done(s);
}

std::string describe_repeats(const RepeatFilter::Summary& s) {
  const auto clock = [](RepeatFilter::Clock::time_point t) {
    const std::time_t secs = RepeatFilter::Clock::to_time_t(t);
    std::tm tm{};
    ::localtime_r(&secs, &tm);
    char text[16];
    std::strftime(text, sizeof text, "%H:%M:%S", &tm);
    return std::string(text);
  };
  const auto span = std::chrono::duration_cast<std::chrono::seconds>(s.last - s.first).count();
  return "repeated " + std::to_string(s.repeats) + " more time" + (s.repeats == 1 ? "" : "s") +
         " in " + std::to_string(span) + " s (" + clock(s.first) + " to " + clock(s.last) + ")";
}

}  // namespace capsule::component
