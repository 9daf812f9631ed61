#include "recent_events.hpp"

#include <chrono>

namespace capsule::daemon {

void RecentEvents::push(nlohmann::json event) {
  event["ts"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::lock_guard lock(mutex_);
  event["seq"] = ++seq_;
  events_.push_back(std::move(event));
  if (events_.size() > capacity_) events_.pop_front();
}

std::vector<nlohmann::json> RecentEvents::since(std::uint64_t after) const {
  std::lock_guard lock(mutex_);
  std::vector<nlohmann::json> out;
  for (const auto& e : events_) {
    if (e["seq"].get<std::uint64_t>() > after) out.push_back(e);
  }
  return out;
}

std::uint64_t RecentEvents::last_seq() const {
  std::lock_guard lock(mutex_);
  return seq_;
}

void DenialTap::record(const security::AuditRecord& record) {
  inner_->record(record);
  if (record.allowed) return;
  feed_->denials.push({{"kind", "capability"},
                       {"who", record.who.to_string()},
                       {"action", std::string(security::to_string(record.action))},
                       {"target", record.target},
                       {"reason", record.reason}});
}

void DenialTap::record_admin(const security::AdminAuditRecord& record) {
  inner_->record_admin(record);
  if (record.allowed) return;
  feed_->denials.push({{"kind", "admin"},
                       {"who", record.caller},
                       {"action", record.action},
                       {"target", record.target},
                       {"reason", record.outcome}});
}

}  // namespace capsule::daemon
