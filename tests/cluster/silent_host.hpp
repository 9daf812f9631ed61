#pragma once

#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <string>
#include <thread>

#include <capsule/cluster/wire.hpp>

namespace capsule::cluster::testing {

// A host that announces `test/ghost/0` in its heartbeats (a plain NATS client, every 50 ms) and
// takes every component message addressed to it without ever answering: what a stuck host looks
// like to a sender.
class SilentHost {
 public:
  explicit SilentHost(const std::string& url) {
    EXPECT_EQ(natsConnection_ConnectTo(&conn_, url.c_str()), NATS_OK);
    EXPECT_EQ(natsConnection_SubscribeSync(&swallow_, conn_, "capsule.test.f.*.c.ghost.>"),
              NATS_OK);
    natsConnection_Flush(conn_);
    beat_ = std::thread([this] {
      std::uint64_t sequence = 1;
      while (!stop_.load()) {
        beat(sequence++, false);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }
  ~SilentHost() {
    stop_.store(true);
    if (beat_.joinable()) beat_.join();
    natsSubscription_Destroy(swallow_);
    natsConnection_Destroy(conn_);
  }
  SilentHost(const SilentHost&) = delete;
  SilentHost& operator=(const SilentHost&) = delete;

  // Component messages (sends, batches, requests) it swallowed so far and still holds.
  [[nodiscard]] int swallowed() const {
    int messages = 0;
    int bytes = 0;
    natsSubscription_GetPending(swallow_, &messages, &bytes);
    return messages;
  }

  // Stops beating and says goodbye, as a host leaving the cluster does: the others end what
  // waits on it at once.
  void goodbye() {
    stop_.store(true);
    if (beat_.joinable()) beat_.join();
    beat(UINT64_MAX / 2, true);
    natsConnection_Flush(conn_);
  }

 private:
  void beat(std::uint64_t sequence, bool leaving) {
    Heartbeat h;
    h.host = "ghost";
    h.sequence = sequence;
    h.interval_ms = 50;
    h.leaving = leaving;
    h.components = {ComponentId{"test", "ghost", "0"}};
    const auto bytes = encode(h);
    natsConnection_Publish(conn_, Subjects{"test"}.hosts("ghost").c_str(), bytes.data(),
                           static_cast<int>(bytes.size()));
  }

  natsConnection* conn_ = nullptr;
  natsSubscription* swallow_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread beat_;
};

}  // namespace capsule::cluster::testing
