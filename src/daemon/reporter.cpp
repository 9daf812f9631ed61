#include "reporter.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace capsule::daemon {

void Reporter::line(std::string_view level, std::string_view message, const Fields& fields) {
  if (tap_) tap_(level, message, fields);
  std::string out;
  if (format_ == LogFormat::kJson) {
    nlohmann::json j;
    j["ts"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    j["level"] = level;
    j["msg"] = message;
    for (const auto& [k, v] : fields) j[k] = v;
    out = j.dump();
  } else {
    const std::time_t now = std::time(nullptr);
    char stamp[16];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", std::localtime(&now));
    out = std::string(stamp) + " ";
    if (level != "info") out += std::string(level) + ": ";
    out += message;
    for (const auto& [k, v] : fields) {
      out += "  ";
      out += k;
      out += '=';
      out += v;
    }
  }
  std::lock_guard lock(mutex_);
  std::fprintf(stdout, "%s\n", out.c_str());
  std::fflush(stdout);
}

}  // namespace capsule::daemon
