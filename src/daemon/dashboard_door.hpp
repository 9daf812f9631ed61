#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

#include <capsule/core/result.hpp>

namespace capsule::daemon {

// How a browser gets into the dashboard of a TCP admin listener (docs/cli.md, "Dashboard").
// A browser can put no bearer token on a page navigation or an EventSource, so:
// 1. an admin client that already has access (the CLI on the Unix socket, or a TCP client with
//    the token) asks for a one-time code (POST /v1/dashboard-code, `capsule dashboard`);
// 2. the browser opens /dashboard/login?code=<code> on the TCP listener; the code, good once and
//    for kCodeLifetime, becomes a session: an HttpOnly, SameSite=Strict cookie named after the
//    listener's port (cookies ignore ports, so two hosts on one machine would share one name);
// 3. the session then stands in for the token on that listener only (each listener keeps its
//    own sessions), for kSessionLifetime; the Host/Origin checks still apply.
class DashboardDoor {
 public:
  static constexpr std::chrono::seconds kCodeLifetime{120};
  static constexpr std::chrono::hours kSessionLifetime{12};
  // Outstanding codes and live sessions at once; past that the oldest goes.
  static constexpr std::size_t kMaxCodes = 16;
  static constexpr std::size_t kMaxSessions = 64;

  // A new one-time code (64 hex digits from the CSPRNG).
  [[nodiscard]] Result<std::string> issue_code();
  // Spends `code`: a new session id, or why not (unknown, used or expired: all kPermissionDenied).
  [[nodiscard]] Result<std::string> exchange(const std::string& code);
  [[nodiscard]] bool valid_session(const std::string& session);

  // "capsule_session_7070" for the listener on port 7070.
  [[nodiscard]] static std::string cookie_name(unsigned short port);
  // The Set-Cookie value for `session` on that listener.
  [[nodiscard]] static std::string set_cookie(const std::string& session, unsigned short port);

 private:
  using Clock = std::chrono::steady_clock;
  // Drops expired entries, then the oldest while over `max`.
  static void prune(std::map<std::string, Clock::time_point>& entries, std::size_t max);

  std::mutex mutex_;
  std::map<std::string, Clock::time_point> codes_;     // code -> expiry
  std::map<std::string, Clock::time_point> sessions_;  // session -> expiry
};

}  // namespace capsule::daemon
