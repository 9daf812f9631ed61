#pragma once
// The options of a connection to a cluster's lease bucket (LeaseKeeper, NameLeases).
#include <string>

#include <capsule/cluster/lease_keeper.hpp>

#include "kv_bucket.hpp"

namespace capsule::cluster {

// `client_name` is what the server's connection list shows.
inline KvBucket::Options lease_bucket_options(const LeaseConfig& config, std::string client_name) {
  KvBucket::Options bo;
  bo.url = config.url;
  bo.bucket = config.bucket;
  bo.description = "capsule leases (failover units, hosts, name claims)";
  bo.client_name = std::move(client_name);
  bo.timeout = config.timeout;
  bo.replicas = config.replicas;
  bo.user = config.user;
  bo.password = config.password;
  bo.tls = config.tls;
  return bo;
}

}  // namespace capsule::cluster
