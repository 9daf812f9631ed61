#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <capsule/security/audit.hpp>

namespace capsule::daemon {

// The last `capacity` events of one kind (log lines, traps, audit denials) for the dashboard,
// numbered from 1 so that a reader asks only for those after the last one it saw. Thread-safe:
// events arrive from runtime threads, readers are admin connections.
class RecentEvents {
 public:
  explicit RecentEvents(std::size_t capacity) : capacity_(capacity) {}
  // Adds `event` (a JSON object) with "seq" and "ts" (ms since the epoch) set.
  void push(nlohmann::json event);
  // The events kept whose seq is above `after`, oldest first.
  [[nodiscard]] std::vector<nlohmann::json> since(std::uint64_t after) const;
  [[nodiscard]] std::uint64_t last_seq() const;

 private:
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<nlohmann::json> events_;
  std::uint64_t seq_ = 0;
};

// What the dashboard shows besides the snapshot: the host's log lines, instance failures (traps,
// limits) and supervisors giving up, and refused capability checks and admin requests.
struct DashboardFeed {
  RecentEvents log{200};
  RecentEvents failures{50};
  RecentEvents denials{50};
};

// An AuditSink in front of another: forwards every record, and keeps the refused ones in
// `denials` (who, what, why) for the dashboard.
class DenialTap final : public security::AuditSink {
 public:
  DenialTap(std::shared_ptr<security::AuditSink> inner, std::shared_ptr<DashboardFeed> feed)
      : inner_(std::move(inner)), feed_(std::move(feed)) {}
  void record(const security::AuditRecord& record) override;
  void record_admin(const security::AdminAuditRecord& record) override;

 private:
  std::shared_ptr<security::AuditSink> inner_;
  std::shared_ptr<DashboardFeed> feed_;
};

}  // namespace capsule::daemon
