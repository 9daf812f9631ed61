// Payload limits on the cluster wire: a payload that cannot fit in one NATS message (the server's
// max_payload) is refused to its sender by size, naming both numbers, before it is copied into an
// envelope; a peer's payload over the receiving component's own max_payload is refused there.
// Two hosts in one process on a real nats-server whose max_payload is 64 KiB.
#include <gtest/gtest.h>

#include "cluster_fixture.hpp"

namespace capsule::cluster {
namespace {

using testing::Host;
using testing::NatsServer;
using namespace std::chrono_literals;

Payload bytes_of(std::size_t n) {
  Payload p;
  p.bytes.assign(n, 'x');
  return p;
}

class WireLimit : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    engine_ = testing::cluster_test_engine();
    ASSERT_NE(engine_, nullptr);
  }
  static void TearDownTestSuite() { engine_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(server.running());
    a = std::make_unique<Host>("alpha", server.url(), engine_);
    b = std::make_unique<Host>("beta", server.url(), engine_);
  }

  static inline std::shared_ptr<wasm::WasmEngine> engine_;
  NatsServer server{NatsServer::Mode::kCore, "max_payload: 65536\n"};
  std::unique_ptr<Host> a, b;
};

TEST_F(WireLimit, ARequestLargerThanAClusterMessageIsRefusedBySize) {
  const auto echo = b->start("echo", "echo")[0];
  ASSERT_TRUE(a->sees("beta", 1));
  auto small = a->runtime->ask(echo, bytes_of(10 * 1024), 5s).get();
  ASSERT_TRUE(small) << small.error().describe();
  EXPECT_EQ(small->bytes.size(), 10u * 1024);

  auto big = a->runtime->ask(echo, bytes_of(100 * 1024), 5s).get();
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(big.error().message.find("a payload of 102400 bytes does not fit in a cluster message"),
            std::string::npos)
      << big.error().message;
  EXPECT_NE(big.error().message.find("65536"), std::string::npos) << big.error().message;
  EXPECT_NE(big.error().message.find("test/echo/0"), std::string::npos) << big.error().message;

  const Status send = a->runtime->send(component::ComponentRuntime::privileged_caller(), echo,
                                       bytes_of(100 * 1024));
  ASSERT_FALSE(send);
  EXPECT_EQ(send.error().code, ErrorCode::kInvalidArgument) << send.error().describe();
  // Nothing reached the other host, and it still answers.
  auto after = a->runtime->ask(echo, bytes_of(16), 5s).get();
  ASSERT_TRUE(after) << after.error().describe();
}

TEST_F(WireLimit, APeersPayloadOverTheReceiversOwnLimitIsRefusedThere) {
  ResourceLimits limits;
  limits.max_payload_bytes = 1000;
  const auto echo = b->start("echo", "echo", {}, 1, limits)[0];
  ASSERT_TRUE(a->sees("beta", 1));
  auto fits = a->runtime->ask(echo, bytes_of(1000), 5s).get();
  ASSERT_TRUE(fits) << fits.error().describe();
  auto over = a->runtime->ask(echo, bytes_of(2000), 5s).get();
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(over.error().message.find("payload of 2000 bytes from host/host/0 on another host "
                                      "exceeds the limit of 1000 bytes"),
            std::string::npos)
      << over.error().message;
  EXPECT_NE(over.error().message.find("of test/echo/0"), std::string::npos) << over.error().message;
  const Status send =
      a->runtime->send(component::ComponentRuntime::privileged_caller(), echo, bytes_of(2000));
  ASSERT_FALSE(send) << "a confirmed send is refused by the receiving host";
  EXPECT_EQ(send.error().code, ErrorCode::kInvalidArgument) << send.error().describe();
}

}  // namespace
}  // namespace capsule::cluster
