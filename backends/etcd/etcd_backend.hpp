// etcd_backend.hpp: a baton backend on an etcd v3 cluster, spoken to over
// etcd's HTTP/JSON gateway with libcurl (docs/design.md §8). Locks outlive
// the loss of any minority of the cluster's members.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <baton/backend.hpp>

namespace baton::etcd {

// What the backend needs to reach the cluster. Aggregate; copyable.
struct Options {
  // Client URLs of the cluster's members ("http://host:2379"), tried in
  // order; a member that cannot be reached is skipped for the next one.
  std::vector<std::string> endpoints{"http://127.0.0.1:2379"};
  // Prefix of every key baton writes. Two deployments sharing a cluster need
  // prefixes of which neither is a prefix of the other.
  std::string prefix = "baton/";
  // etcd user and password; an empty username: no authentication.
  std::string username;
  std::string password;
  // Bound on connecting to one member. Zero: 5 s.
  std::chrono::milliseconds connect_timeout{0};
  // Bound on one request's answer once connected. Zero: 5 s.
  std::chrono::milliseconds command_timeout{0};
  // Idle connections kept for reuse. Zero: 8.
  unsigned pool_size = 0;
  // Lease of a queued waiter's key, kept alive by the waiting thread: a
  // waiter that dies leaves the queue when it ends. Rounded up to whole
  // seconds. Zero: 3 s.
  std::chrono::milliseconds waiter_ttl{0};
};

// Does not connect: the first call that needs the cluster does, and throws
// BackendUnavailable when no endpoint answers.
std::shared_ptr<baton::Backend> make_backend(const Options& options);

}  // namespace baton::etcd
