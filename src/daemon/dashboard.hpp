#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "http.hpp"
#include "recent_events.hpp"

namespace capsule::daemon {

// The live dashboard the daemon serves on its admin listeners (docs/cli.md, "Dashboard"):
//   GET /dashboard/            the page (web/dashboard/, embedded: dashboard_assets.hpp)
//   GET /v1/dashboard          one snapshot, JSON
//   GET /v1/events             Server-Sent Events: a snapshot every `period` (with message and
//                              request rates since the previous one) and the new log lines,
//                              failures and denials
// Who may ask is the listener's business (AdminEndpoints): the same door as the admin API.
class Dashboard {
 public:
  // Streams open at once, over all listeners. Each holds one of a listener's 16 connection
  // threads for as long as the page is open: past this bound a new stream is refused (503) so
  // that admin calls always find a thread.
  static constexpr std::size_t kMaxStreams = 8;
  // The daemon's view of itself, as GET /v1/ps and /v1/hosts show it (admin_views.hpp).
  using Snapshot = std::function<nlohmann::json()>;

  Dashboard(Snapshot snapshot, std::shared_ptr<DashboardFeed> feed,
            std::chrono::milliseconds period = std::chrono::seconds(1));
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // The answer for a dashboard route; nullopt for any other request.
  [[nodiscard]] std::optional<HttpResponse> route(const HttpRequest& request);
  // Ends every stream at once (they say "bye") and refuses new ones: before the listeners stop,
  // which wait for the connections they serve.
  void close();

 private:
  struct Streams {
    std::mutex mutex;
    std::condition_variable changed;
    std::size_t open = 0;
    bool closed = false;
  };
  class Stream;
  HttpResponse events();
  [[nodiscard]] nlohmann::json snapshot_with_feed() const;

  Snapshot snapshot_;
  std::shared_ptr<DashboardFeed> feed_;
  std::chrono::milliseconds period_;
  std::shared_ptr<Streams> streams_;
};

// Adds "msg_rate" and "call_rate" (per second) to each instance of `snapshot`, and "rates" with
// the totals, from the counters of `previous` (the snapshot before it; null for the first one):
// counters that went down (a restarted instance starts again from 0) count from 0.
void add_rates(nlohmann::json& snapshot, const nlohmann::json* previous);

}  // namespace capsule::daemon
