#include "dashboard_door.hpp"

#include <algorithm>

#include "admin_auth.hpp"

namespace capsule::daemon {

void DashboardDoor::prune(std::map<std::string, Clock::time_point>& entries, std::size_t max) {
  const auto now = Clock::now();
  std::erase_if(entries, [now](const auto& e) { return e.second <= now; });
  while (entries.size() > max) {
    // The entry expiring first is the oldest (every entry of a map got the same lifetime).
    entries.erase(
        std::min_element(entries.begin(), entries.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; }));
  }
}

Result<std::string> DashboardDoor::issue_code() {
  auto code = random_token();
  if (!code) return code;
  std::lock_guard lock(mutex_);
  codes_[*code] = Clock::now() + kCodeLifetime;
  prune(codes_, kMaxCodes);
  return code;
}

Result<std::string> DashboardDoor::exchange(const std::string& code) {
  {
    std::lock_guard lock(mutex_);
    prune(codes_, kMaxCodes);
    // A map lookup compares in time that depends on the code; but a code is good once and for
    // two minutes among 2^256, so guessing it byte by byte from timings is not a concern.
    const auto it = codes_.find(code);
    if (it == codes_.end()) {
      return make_error(ErrorCode::kPermissionDenied,
                        "unknown, used or expired dashboard code (codes are good once, for " +
                            std::to_string(kCodeLifetime.count()) +
                            " s): run `capsule dashboard` for a new link");
    }
    codes_.erase(it);
  }
  auto session = random_token();
  if (!session) return session;
  std::lock_guard lock(mutex_);
  sessions_[*session] = Clock::now() + kSessionLifetime;
  prune(sessions_, kMaxSessions);
  return session;
}

bool DashboardDoor::valid_session(const std::string& session) {
  if (session.empty()) return false;
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(session);
  return it != sessions_.end() && it->second > Clock::now();
}

std::string DashboardDoor::cookie_name(unsigned short port) {
  return "capsule_session_" + std::to_string(port);
}

std::string DashboardDoor::set_cookie(const std::string& session, unsigned short port) {
  // No Domain (host-only), Path=/ (the page and /v1), Max-Age the session's lifetime.
  return cookie_name(port) + "=" + session + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kSessionLifetime).count());
}

}  // namespace capsule::daemon
