#pragma once

#include <cstdint>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <string>
#include <vector>

namespace capsule::cluster::testing {

// A plain NATS client on the cluster's server that publishes hand-made bytes: what any process
// that can reach the server could send (the hostile tests' forger).
class RawClient {
 public:
  explicit RawClient(const std::string& url) {
    EXPECT_EQ(natsConnection_ConnectTo(&conn_, url.c_str()), NATS_OK);
  }
  ~RawClient() { natsConnection_Destroy(conn_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Publishes `bytes` on `subject`; `flush`: waits until the server has it.
  void publish(const std::string& subject, const std::vector<std::uint8_t>& bytes,
               bool flush = true) {
    EXPECT_EQ(natsConnection_Publish(conn_, subject.c_str(), bytes.data(),
                                     static_cast<int>(bytes.size())),
              NATS_OK);
    if (flush) {
      EXPECT_EQ(natsConnection_FlushTimeout(conn_, 2000), NATS_OK);
    }
  }

 private:
  natsConnection* conn_ = nullptr;
};

}  // namespace capsule::cluster::testing
