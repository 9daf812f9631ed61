// What an idle mailbox costs (issue 18: 100,000 idle component instances per host): an empty
// queue holds no room for a message, and a bounded mailbox's storage is nothing while empty.
#include <array>
#include <gtest/gtest.h>
#include <memory>
#include <string>

#include <capsule/rt/detail/mpsc_queue.hpp>
#include <capsule/rt/detail/node_fifo.hpp>
#include <capsule/rt/mailbox.hpp>

namespace capsule::rt {
namespace {

using Big = std::array<char, 1024>;

// The queue's stub is a bare link: a queue of 1 KiB messages is far smaller than one message (it
// was more than one, twice per mailbox, before).
TEST(IdleMailbox, AnEmptyQueueHoldsNoMessageRoom) {
  EXPECT_LT(sizeof(detail::MpscQueue<Big>), sizeof(Big) / 2);
  EXPECT_LT(sizeof(Mailbox<Big>), sizeof(Big));
  detail::MpscQueue<Big> queue;
  Big first{};
  first[0] = 'a';
  Big second{};
  second[0] = 'b';
  queue.push(first);
  queue.push(second);
  auto a = queue.try_pop();
  auto b = queue.try_pop();
  ASSERT_TRUE(a && b);
  EXPECT_EQ((*a)[0], 'a');
  EXPECT_EQ((*b)[0], 'b');
  EXPECT_FALSE(queue.try_pop());
  EXPECT_TRUE(queue.empty());
}

TEST(IdleMailbox, NodeFifoKeepsOrderAndReleasesValues) {
  auto token = std::make_shared<int>(1);
  {
    detail::NodeFifo<std::shared_ptr<int>> fifo;
    EXPECT_TRUE(fifo.empty());
    for (int round = 0; round < 3; ++round) {  // emptied and refilled: head and tail reset
      for (int i = 0; i < 5; ++i) fifo.push_back(std::make_shared<int>(i));
      EXPECT_EQ(fifo.size(), 5U);
      for (int i = 0; i < 5; ++i) {
        ASSERT_FALSE(fifo.empty());
        EXPECT_EQ(*fifo.front(), i) << "round " << round;
        fifo.pop_front();
      }
      EXPECT_TRUE(fifo.empty());
      EXPECT_EQ(fifo.size(), 0U);
    }
    fifo.push_back(token);
    fifo.push_back(token);
    EXPECT_EQ(token.use_count(), 3);
    fifo.pop_front();
    EXPECT_EQ(token.use_count(), 2) << "a popped value is released at once";
  }
  EXPECT_EQ(token.use_count(), 1) << "a destroyed fifo releases what it held";
}

// A bounded mailbox refills after draining, in order, within its bound.
TEST(IdleMailbox, BoundedMailboxDrainsAndRefills) {
  Mailbox<std::string> mailbox(MailboxConfig::bounded(3, BackpressurePolicy::kError));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(mailbox.enqueue(std::to_string(i), false), EnqueueOutcome::kAccepted);
    }
    EXPECT_EQ(mailbox.enqueue("over", false), EnqueueOutcome::kFull);
    for (int i = 0; i < 3; ++i) {
      auto m = mailbox.try_dequeue();
      ASSERT_TRUE(m);
      EXPECT_EQ(*m, std::to_string(i));
    }
    EXPECT_FALSE(mailbox.try_dequeue());
    EXPECT_TRUE(mailbox.empty());
    EXPECT_FALSE(mailbox.ready());
  }
}

}  // namespace
}  // namespace capsule::rt
