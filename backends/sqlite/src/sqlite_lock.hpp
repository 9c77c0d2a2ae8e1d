// sqlite_lock.hpp: the backend side of one Lock instance.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "baton/backend.hpp"
#include "connection.hpp"
#include "lock_queue.hpp"
#include "settings.hpp"

namespace baton::sqlite::detail {

// Each call borrows a connection from the backend's pool and gives it back
// when it returns (an acquire keeps it while it waits).
// Called from one thread at a time (BackendLock's contract). Not copyable,
// not movable.
class SqliteLock final : public BackendLock {
 public:
  SqliteLock(std::shared_ptr<const SharedState> shared, std::string_view name, Owner owner);
  SqliteLock(const SqliteLock&) = delete;
  SqliteLock& operator=(const SqliteLock&) = delete;

  std::optional<std::uint64_t> acquire(Clock::time_point deadline, std::chrono::milliseconds ttl,
                                       std::stop_token stop) override;
  std::optional<std::uint64_t> try_acquire(std::chrono::milliseconds ttl) override;
  bool renew(std::chrono::milliseconds ttl) override;
  bool release() override;

  // renew()'s statement on `conn`, inside the caller's transaction, with
  // `now` on the boot clock: whether the grant was still there.
  bool extend_lease(Connection& conn, std::chrono::milliseconds ttl, std::int64_t now);

 private:
  std::shared_ptr<const SharedState> shared_;
  std::string name_;
  Owner owner_;
  std::int64_t token_ = 0;  // of the grant held; 0: none
};

}  // namespace baton::sqlite::detail
