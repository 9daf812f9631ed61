#include "confirmations.hpp"

#include <utility>

namespace capsule::cluster {

std::uint64_t PendingConfirmations::add(std::string host, ComponentId target,
                                        Clock::time_point deadline, Done done) {
  std::vector<ComponentId> targets;
  targets.push_back(std::move(target));
  const std::lock_guard lock(mutex_);
  const std::uint64_t id = next_++;
  entries_.emplace(id, Entry{std::move(host), std::move(targets), deadline, std::move(done), {}});
  return id;
}

std::uint64_t PendingConfirmations::add_batch(std::string host, std::vector<ComponentId> targets,
                                              Clock::time_point deadline, BatchDone done) {
  const std::lock_guard lock(mutex_);
  const std::uint64_t id = next_++;
  entries_.emplace(id, Entry{std::move(host), std::move(targets), deadline, {}, std::move(done)});
  return id;
}

void PendingConfirmations::finish(Entry& entry, std::vector<Status> outcomes) {
  if (entry.batch) return entry.batch(std::move(outcomes));
  entry.single(std::move(outcomes.front()));
}

bool PendingConfirmations::acknowledge(std::uint64_t id, const std::string& origin,
                                       std::vector<Status> outcomes) {
  Entry ended;
  {
    const std::lock_guard lock(mutex_);
    const auto it = entries_.find(id);
    if (it == entries_.end()) return true;  // ended already (late ack): nothing to do
    if (it->second.host != origin || outcomes.size() != it->second.targets.size()) return false;
    ended = std::move(it->second);
    entries_.erase(it);
  }
  finish(ended, std::move(outcomes));
  return true;
}

void PendingConfirmations::fail(std::uint64_t id, const Status& outcome) {
  Entry ended;
  {
    const std::lock_guard lock(mutex_);
    const auto it = entries_.find(id);
    if (it == entries_.end()) return;
    ended = std::move(it->second);
    entries_.erase(it);
  }
  finish(ended, std::vector<Status>(ended.targets.size(), outcome));
}

template <typename Pick>
void PendingConfirmations::end_where(
    Pick pick, const std::function<Error(const Entry&, const ComponentId&)>& why) {
  std::vector<std::pair<Entry, std::vector<Status>>> ended;
  {
    const std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (pick(it->second)) {
        std::vector<Status> outcomes;
        outcomes.reserve(it->second.targets.size());
        for (const auto& target : it->second.targets)
          outcomes.emplace_back(why(it->second, target));
        ended.emplace_back(std::move(it->second), std::move(outcomes));
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [entry, outcomes] : ended) finish(entry, std::move(outcomes));
}

void PendingConfirmations::expire(Clock::time_point now) {
  end_where([now](const Entry& e) { return e.deadline <= now; },
            [](const Entry& e, const ComponentId& target) {
              return make_error(ErrorCode::kUnavailable,
                                "no confirmation from host " + e.host + " for the message to " +
                                    target.to_string() +
                                    " in time: it may or may not have been delivered");
            });
}

void PendingConfirmations::fail_host(const std::string& host, const std::string& reason) {
  end_where([&](const Entry& e) { return e.host == host; },
            [&](const Entry& /*e*/, const ComponentId& target) {
              return make_error(ErrorCode::kUnavailable, reason + ": the message to " +
                                                             target.to_string() +
                                                             " may or may not have been delivered");
            });
}

void PendingConfirmations::fail_all(const std::string& reason) {
  end_where([](const Entry&) { return true; },
            [&](const Entry& /*e*/, const ComponentId& target) {
              return make_error(ErrorCode::kUnavailable, reason + ": the message to " +
                                                             target.to_string() +
                                                             " may or may not have been delivered");
            });
}

}  // namespace capsule::cluster
