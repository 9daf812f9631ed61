#include "confirmations.hpp"

#include <utility>
#include <vector>

namespace capsule::cluster {

std::uint64_t PendingConfirmations::add(std::string host, ComponentId target,
                                        Clock::time_point deadline, Done done) {
  const std::lock_guard lock(mutex_);
  const std::uint64_t id = next_++;
  entries_.emplace(id, Entry{std::move(host), std::move(target), deadline, std::move(done)});
  return id;
}

bool PendingConfirmations::acknowledge(std::uint64_t id, const std::string& origin,
                                       Status outcome) {
  Done done;
  {
    const std::lock_guard lock(mutex_);
    const auto it = entries_.find(id);
    if (it == entries_.end()) return true;  // ended already (late ack): nothing to do
    if (it->second.host != origin) return false;
    done = std::move(it->second.done);
    entries_.erase(it);
  }
  done(std::move(outcome));
  return true;
}

void PendingConfirmations::fail(std::uint64_t id, Status outcome) {
  Done done;
  {
    const std::lock_guard lock(mutex_);
    const auto it = entries_.find(id);
    if (it == entries_.end()) return;
    done = std::move(it->second.done);
    entries_.erase(it);
  }
  done(std::move(outcome));
}

template <typename Pick>
void PendingConfirmations::end_where(Pick pick, const std::function<Error(const Entry&)>& why) {
  std::vector<std::pair<Done, Error>> ended;
  {
    const std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (pick(it->second)) {
        ended.emplace_back(std::move(it->second.done), why(it->second));
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [done, error] : ended) done(std::move(error));
}

void PendingConfirmations::expire(Clock::time_point now) {
  end_where([now](const Entry& e) { return e.deadline <= now; },
            [](const Entry& e) {
              return make_error(ErrorCode::kUnavailable,
                                "no confirmation from host " + e.host + " for the message to " +
                                    e.target.to_string() +
                                    " in time: it may or may not have been delivered");
            });
}

void PendingConfirmations::fail_host(const std::string& host, const std::string& reason) {
  end_where([&](const Entry& e) { return e.host == host; },
            [&](const Entry& e) {
              return make_error(ErrorCode::kUnavailable, reason + ": the message to " +
                                                             e.target.to_string() +
                                                             " may or may not have been delivered");
            });
}

void PendingConfirmations::fail_all(const std::string& reason) {
  end_where([](const Entry&) { return true; },
            [&](const Entry& e) {
              return make_error(ErrorCode::kUnavailable, reason + ": the message to " +
                                                             e.target.to_string() +
                                                             " may or may not have been delivered");
            });
}

}  // namespace capsule::cluster
