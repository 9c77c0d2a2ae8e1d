// sqlite_backend.hpp: the SQLite Backend: opens locks, and answers the
// admin calls (inspect, list, clear) through a connection of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "baton/backend.hpp"
#include "baton/lock_info.hpp"
#include "connection.hpp"
#include "settings.hpp"

namespace baton::sqlite::detail {

// Thread-safe: open() from any thread; the admin calls share one connection,
// one call at a time (guarded by mu_). Not copyable, not movable (held by
// shared_ptr).
class SqliteBackend final : public Backend {
 public:
  // Sets up the database file (schema.hpp). Throws BackendUnavailable or
  // BackendError when it cannot be opened or is not baton's.
  explicit SqliteBackend(std::shared_ptr<const SharedState> shared);
  SqliteBackend(const SqliteBackend&) = delete;
  SqliteBackend& operator=(const SqliteBackend&) = delete;

  std::string_view kind() const noexcept override { return "sqlite"; }
  std::unique_ptr<BackendLock> open(std::string_view name, const Owner& owner) override;

  LockInfo inspect(std::string_view name) override;
  std::vector<LockInfo> list() override;
  bool clear(std::string_view name) override;
  // Every lease of the batch in one write transaction, on a pooled
  // connection; one lock whose grant is gone is reported lost alone.
  void renew_batch(std::span<Renewal> batch) noexcept override;

 private:
  // `body` (which counts waiters: rows, then posted join requests) in one
  // read transaction, counted again when a commit landed meanwhile.
  template <class F>
  auto counted_read(F&& body);
  // Posted join requests of `name` without a row in the current snapshot,
  // whose ticket counter stood at `counter`.
  std::size_t unqueued_requests(std::string_view name, std::int64_t counter) const;

  std::shared_ptr<const SharedState> shared_;
  std::mutex mu_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace baton::sqlite::detail
