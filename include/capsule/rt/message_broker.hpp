#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <capsule/core/result.hpp>
#include <capsule/rt/actor_ref.hpp>
#include <capsule/rt/actor_system.hpp>
#include <capsule/rt/dead_letters.hpp>
#include <capsule/rt/detail/type_name.hpp>
#include <capsule/rt/reply.hpp>

namespace capsule::rt {

// Topic-based publish/subscribe for actors that accept `Msg`. The subscriber list of a topic is
// copy-on-write: publishing takes one short lock to grab the current list, then sends without any
// lock, so publishers never wait for each other or for subscription changes. Subscribers that
// terminated are pruned on the next publish.
template <typename Msg>
class MessageBroker {
 public:
  class Topic;
  using TopicHandle = std::shared_ptr<Topic>;

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  class Topic {
   public:
    Topic(Key /*only the broker creates topics*/, std::string name)
        : name_(std::move(name)), subscribers_(std::make_shared<const List>()) {}
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] std::size_t subscriber_count() const { return snapshot()->size(); }

   private:
    friend class MessageBroker;
    using List = std::vector<ActorRef<Msg>>;
    [[nodiscard]] std::shared_ptr<const List> snapshot() const {
      std::lock_guard lock(mutex_);
      return subscribers_;
    }
    std::string name_;
    mutable std::mutex mutex_;
    std::shared_ptr<const List> subscribers_;
    std::atomic<std::size_t> next_{0};  // round-robin cursor for requests
  };
  explicit MessageBroker(ActorSystem& system) : system_(system) {}

  // Get-or-create; keep the handle to publish without a name lookup.
  TopicHandle topic(std::string_view name) {
    {
      std::shared_lock lock(topics_mutex_);
      if (auto it = topics_.find(name); it != topics_.end()) return it->second;
    }
    std::unique_lock lock(topics_mutex_);
    auto [it, inserted] = topics_.try_emplace(std::string(name));
    if (inserted) it->second = std::make_shared<Topic>(Key{}, std::string(name));
    return it->second;
  }

  // The topic if it exists (has or had subscribers); never creates one.
  [[nodiscard]] TopicHandle find(std::string_view name) const {
    std::shared_lock lock(topics_mutex_);
    auto it = topics_.find(name);
    return it == topics_.end() ? nullptr : it->second;
  }

  Status subscribe(std::string_view topic_name, ActorRef<Msg> subscriber) {
    if (!subscriber) return make_error(ErrorCode::kInvalidArgument, "empty subscriber");
    auto t = topic(topic_name);
    std::lock_guard lock(t->mutex_);
    const auto& current = *t->subscribers_;
    if (std::find(current.begin(), current.end(), subscriber) != current.end()) {
      return make_error(ErrorCode::kAlreadyExists, "already subscribed to " + t->name_);
    }
    auto next = std::make_shared<typename Topic::List>(current);
    next->push_back(std::move(subscriber));
    t->subscribers_ = std::move(next);
    return ok();
  }

  bool unsubscribe(std::string_view topic_name, const ActorRef<Msg>& subscriber) {
    auto t = find(topic_name);
    return t && remove(t, subscriber);
  }

  // Returns how many subscribers accepted the message. No subscriber: a dead letter.
  std::size_t publish(const TopicHandle& t, const Msg& msg) {
    const auto subscribers = t->snapshot();
    std::size_t delivered = 0;
    for (const auto& subscriber : *subscribers) {
      if (subscriber.send(Msg(msg))) {
        ++delivered;
      } else if (!subscriber.alive()) {
        remove(t, subscriber);
      }
    }
    if (subscribers->empty()) {
      system_.telemetry()->dead_letter(DeadLetter{
          0, t->name_, std::string(detail::type_name<Msg>()), DeadLetterReason::kNoSubscribers});
    }
    return delivered;
  }
  // By name: a topic nobody subscribed to is not created (publishing to ever new names must
  // not grow the broker), the message is a dead letter.
  std::size_t publish(std::string_view topic_name, const Msg& msg) {
    if (auto t = find(topic_name)) return publish(t, msg);
    system_.telemetry()->dead_letter(DeadLetter{0, std::string(topic_name),
                                                std::string(detail::type_name<Msg>()),
                                                DeadLetterReason::kNoSubscribers});
    return 0;
  }

  // Request/reply through a topic: the request goes to one subscriber (round robin).
  template <typename Resp, typename Make>
  void request(std::string_view topic_name, Make&& make,
               std::chrono::steady_clock::duration timeout,
               std::function<void(Result<Resp>)> on_reply) {
    auto t = topic(topic_name);
    const auto subscribers = t->snapshot();
    if (subscribers->empty()) {
      system_.telemetry()->dead_letter(DeadLetter{
          0, t->name_, std::string(detail::type_name<Msg>()), DeadLetterReason::kNoSubscribers});
      on_reply(make_error(ErrorCode::kNotFound, "no subscriber on topic " + t->name_));
      return;
    }
    const auto pick = t->next_.fetch_add(1, std::memory_order_relaxed) % subscribers->size();
    ask<Resp>(system_, (*subscribers)[pick], std::forward<Make>(make), timeout,
              std::move(on_reply));
  }

 private:
  bool remove(const TopicHandle& t, const ActorRef<Msg>& subscriber) {
    bool now_empty = false;
    {
      std::lock_guard lock(t->mutex_);
      const auto& current = *t->subscribers_;
      auto it = std::find(current.begin(), current.end(), subscriber);
      if (it == current.end()) return false;
      auto next = std::make_shared<typename Topic::List>(current);
      next->erase(next->begin() + (it - current.begin()));
      now_empty = next->empty();
      t->subscribers_ = std::move(next);
    }
    if (now_empty) forget_if_unused(t);
    return true;
  }

  // A topic without subscribers is freed, unless someone holds its handle (they would publish
  // into a topic nobody can find any more) or a subscriber arrived meanwhile.
  void forget_if_unused(const TopicHandle& t) {
    std::unique_lock lock(topics_mutex_);
    auto it = topics_.find(t->name_);
    if (it == topics_.end() || it->second != t) return;
    std::lock_guard topic_lock(t->mutex_);
    // Held here by the map, by the caller's `t`, and maybe by publish()'s own copy.
    if (t->subscribers_->empty() && t.use_count() <= 2) topics_.erase(it);
  }

  ActorSystem& system_;
  mutable std::shared_mutex topics_mutex_;
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  // Heterogeneous lookup: publishing by name builds no std::string.
  std::unordered_map<std::string, TopicHandle, NameHash, std::equal_to<>> topics_;
};

}  // namespace capsule::rt
