#pragma once

// The baseline the cluster rows are compared with: two plain cnats clients on the same
// nats-server, no capsule in between (what NATS itself costs on this machine, this run).

#include <atomic>
#include <chrono>
#include <nats/nats.h>
#include <string>
#include <vector>

#include "../common/bench_util.hpp"

namespace capsule::bench::raw {

struct Connection {
  explicit Connection(const std::string& url) {
    natsOptions* opts = nullptr;
    natsOptions_Create(&opts);
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetSendAsap(opts, true);  // as the capsule bridge does
    natsConnection_Connect(&conn, opts);
    natsOptions_Destroy(opts);
  }
  ~Connection() { natsConnection_Destroy(conn); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  natsConnection* conn = nullptr;
};

// Request/reply latencies (us) of `n` sequential 64-byte requests to an echoing responder.
inline std::vector<double> request_reply(const std::string& url, int n) {
  Connection responder(url), requester(url);
  natsSubscription* sub = nullptr;
  natsConnection_Subscribe(
      &sub, responder.conn, "raw.echo",
      [](natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
        natsConnection_Publish(nc, natsMsg_GetReply(m), natsMsg_GetData(m),
                               natsMsg_GetDataLength(m));
        natsMsg_Destroy(m);
      },
      nullptr);
  natsConnection_Flush(responder.conn);
  const std::string payload(64, 'x');
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    natsMsg* reply = nullptr;
    const auto t0 = Clock::now();
    natsConnection_Request(&reply, requester.conn, "raw.echo", payload.data(),
                           static_cast<int>(payload.size()), 10000);
    out.push_back(us(Clock::now() - t0));
    natsMsg_Destroy(reply);
  }
  natsSubscription_Destroy(sub);
  return out;
}

// Messages/s from one publisher to one subscriber, `n` messages of 64 bytes, until all arrived.
inline double pub_sub_rate(const std::string& url, int n) {
  Connection subscriber(url), publisher(url);
  std::atomic<int> got{0};
  natsSubscription* sub = nullptr;
  natsConnection_Subscribe(
      &sub, subscriber.conn, "raw.flood",
      [](natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
        static_cast<std::atomic<int>*>(closure)->fetch_add(1, std::memory_order_relaxed);
        natsMsg_Destroy(m);
      },
      &got);
  natsSubscription_SetPendingLimits(sub, -1, -1);  // the subscriber must not drop any
  natsConnection_Flush(subscriber.conn);
  const std::string payload(64, 'x');
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    natsConnection_Publish(publisher.conn, "raw.flood", payload.data(),
                           static_cast<int>(payload.size()));
  }
  natsConnection_Flush(publisher.conn);
  wait_until([&] { return got.load() >= n; });
  const double rate = got.load() / std::chrono::duration<double>(Clock::now() - t0).count();
  natsSubscription_Destroy(sub);
  return rate;
}

}  // namespace capsule::bench::raw
