#pragma once
// Clients of a test's nats-server that several cluster tests open the same way: a storage
// backend, a lease keeper, and the check that a space's usage entry equals its entries.
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <string_view>

#include <capsule/cluster/lease_keeper.hpp>
#include <capsule/cluster/nats_kv_backend.hpp>

#include "nats_server.hpp"

namespace capsule::cluster::testing {

// A NatsKvBackend on `url` (default bucket), or null after a test failure naming why.
inline std::unique_ptr<NatsKvBackend> connect_kv(const std::string& url) {
  NatsKvBackend::Options options;
  options.url = url;
  auto connected = NatsKvBackend::connect(options);
  EXPECT_TRUE(connected) << connected.error().describe();
  return connected ? std::move(*connected) : nullptr;
}

// A LeaseKeeper of `host` on `url`, or null after a test failure naming why.
inline std::unique_ptr<LeaseKeeper> connect_leases(const std::string& url,
                                                   const std::string& bucket,
                                                   const std::string& host,
                                                   std::chrono::milliseconds duration) {
  LeaseConfig c;
  c.url = url;
  c.bucket = bucket;
  c.host = host;
  c.duration = duration;
  auto k = LeaseKeeper::connect(c);
  EXPECT_TRUE(k) << k.error().describe();
  return k ? std::move(*k) : nullptr;
}

// A permit as ComponentHostApi makes it for a failover unit: the lease window's check, and the
// lease's token as the fencing token.
inline storage::KvBackend::WritePermit owner_permit(LeaseKeeper& leases, const std::string& unit) {
  auto window = leases.window(unit);
  return {[window]() -> Status {
            if (window->is_open()) return ok();
            return make_error(ErrorCode::kUnavailable, "not served here now");
          },
          leases.token(unit)};
}

// Why a test of server-checked fencing cannot run against `kv`'s server (empty: it can).
inline std::string cannot_fence_on(const NatsKvBackend& kv) {
  if (kv.server_fencing()) return {};
  return std::string(NatsServer::binary()) +
         " cannot check a condition over a key pattern (nats-server < 2.11): run "
         "cluster.fencing.* (nats-server 2.14, built by scripts/bootstrap.sh)";
}

// usage() equals the sum of the entries (for tests in which nothing crashed mid-write).
inline void expect_usage_exact(NatsKvBackend& kv, std::string_view space) {
  auto stored = kv.usage(space);
  auto actual = kv.recompute_usage(space);
  ASSERT_TRUE(stored) << stored.error().describe();
  ASSERT_TRUE(actual) << actual.error().describe();
  EXPECT_EQ(stored->bytes, actual->bytes) << space;
  EXPECT_EQ(stored->keys, actual->keys) << space;
}

}  // namespace capsule::cluster::testing
