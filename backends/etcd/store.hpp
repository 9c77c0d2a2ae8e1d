// store.hpp: the etcd backend (baton::Backend) and the lease and queue
// requests its locks share (docs/design.md §8).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <baton/backend.hpp>

#include "client.hpp"
#include "etcd_backend.hpp"
#include "keys.hpp"

namespace baton::etcd {

// The whole seconds of an etcd lease for `ttl`: rounded up, at least 1;
// baton::forever is etcd's longest lease.
std::int64_t lease_seconds(std::chrono::milliseconds ttl);

// Thread-safety: every method may be called from any thread, concurrently
// (the client is thread-safe; the rest is immutable). Held by shared_ptr.
class Store final : public Backend {
 public:
  explicit Store(const Options& options);

  std::string_view kind() const noexcept override { return "etcd"; }
  std::unique_ptr<BackendLock> open(std::string_view name, const Owner& owner) override;
  LockInfo inspect(std::string_view name) override;
  std::vector<LockInfo> list() override;
  bool clear(std::string_view name) override;

  Client& client() { return client_; }
  const std::string& prefix() const { return prefix_; }
  std::chrono::milliseconds waiter_ttl() const { return waiter_ttl_; }

  // A new lease of `ttl` (lease_seconds()); returns its ID.
  std::int64_t grant(std::chrono::milliseconds ttl, std::string_view what);
  // Renews a lease to its full TTL; false when it is gone.
  bool keep_alive(std::int64_t lease, std::string_view what);
  // Ends a lease, deleting its keys; false when it was gone already.
  bool revoke(std::int64_t lease, std::string_view what);
  // revoke(), swallowing every failure: for clean-up on the way out of a
  // call that already fails or gives up. The lease then ends by its TTL.
  void revoke_quietly(std::int64_t lease) noexcept;
  // The entries of `dir` in create-revision order, and the revision of the
  // read (`*revision`).
  std::vector<Entry> queue(const std::string& dir, std::int64_t* revision);

 private:
  LockInfo describe(std::string name, const std::vector<Entry>& entries);

  Client client_;
  const std::string prefix_;
  const std::chrono::milliseconds waiter_ttl_;
};

}  // namespace baton::etcd
