// The unbounded mailbox's queue recycles consumed nodes of non-worker senders, handed back to the
// producers in batches (detail::MpscQueue), and frees workers' nodes: no value outlives its pop,
// and order holds across recycled batches and mixed senders.
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <capsule/rt/detail/mpsc_queue.hpp>

namespace capsule::rt {
namespace {

// A consumed node goes back to the producers in batches; the value it carried must not live on
// in it (a recycled node would otherwise keep a payload, or the actor it refers to, alive).
TEST(MpscQueueRecycling, APoppedValueIsReleasedAtOnce) {
  detail::MpscQueue<std::shared_ptr<int>> queue;
  auto token = std::make_shared<int>(7);
  for (int round = 0; round < 200; ++round) {  // many batches: nodes are reused
    for (int i = 0; i < 10; ++i) queue.push(token);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(queue.try_pop());
    ASSERT_EQ(token.use_count(), 1) << "round " << round;
  }
  queue.push(token);
  {
    detail::MpscQueue<std::shared_ptr<int>> doomed;
    doomed.push(token);
    EXPECT_EQ(token.use_count(), 3);
  }
  EXPECT_EQ(token.use_count(), 2) << "a destroyed queue releases what it held";
}

// Bursts and pauses from several producers: batches of recycled nodes are handed back while
// producers take nodes from them; every producer's order holds and every value arrives once.
TEST(MpscQueueRecycling, KeepsOrderAcrossRecycledBatches) {
  detail::MpscQueue<std::string> queue;
  constexpr int kProducers = 3;
  constexpr int kBursts = 200;
  constexpr int kBurst = 100;
  std::vector<std::thread> producers;
  producers.reserve(kProducers);
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int b = 0; b < kBursts; ++b) {
        for (int i = 0; i < kBurst; ++i) {
          queue.push(std::to_string(p) + ":" + std::to_string(b * kBurst + i));
        }
        std::this_thread::yield();
      }
    });
  }
  std::vector<int> last(kProducers, -1);
  int received = 0;
  while (received < kProducers * kBursts * kBurst) {
    auto v = queue.try_pop();
    if (!v) continue;
    const auto colon = v->find(':');
    const auto p = static_cast<std::size_t>(std::stoi(v->substr(0, colon)));
    const int n = std::stoi(v->substr(colon + 1));
    ASSERT_EQ(n, last[p] + 1) << "producer " << p;
    last[p] = n;
    ++received;
  }
  for (auto& t : producers) t.join();
  EXPECT_TRUE(queue.empty());
}

// Worker senders push plain allocations (freed when consumed), other senders reused nodes, into
// the same queue at once: neither kind may end up in the other's path (a freed node handed back,
// a reused one freed twice: ASan and TSan run this), order and count hold, no value outlives its
// pop.
TEST(MpscQueueRecycling, ReusedAndPlainNodesMixInOneQueue) {
  detail::MpscQueue<std::shared_ptr<int>> queue;
  constexpr int kPerProducer = 20'000;
  auto token = std::make_shared<int>(0);
  std::vector<std::thread> producers;
  for (int p = 0; p < 2; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        queue.push(std::make_shared<int>(p * kPerProducer + i), /*reuse_node=*/p == 0);
        if (i % 64 == 0) queue.push(token, p == 0);
      }
    });
  }
  std::vector<int> last{-1, kPerProducer - 1};
  int received = 0;
  while (received < 2 * kPerProducer) {
    auto v = queue.try_pop();
    if (!v) continue;
    if (*v == token) continue;
    const int n = **v;
    const auto p = static_cast<std::size_t>(n / kPerProducer);
    ASSERT_EQ(n, last[p] + 1) << "producer " << p;
    last[p] = n;
    ++received;
  }
  for (auto& t : producers) t.join();
  while (queue.try_pop()) {
  }
  EXPECT_EQ(token.use_count(), 1) << "every popped value released";
}

}  // namespace
}  // namespace capsule::rt
