// The backend's own calls: opening locks, inspect, list and clear, and the
// batched renewal of its locks' leases.
#include <algorithm>
#include <chrono>
#include <vector>

#include "host.hpp"
#include "lock_queue.hpp"
#include "schema.hpp"
#include "sqlite_backend.hpp"
#include "sqlite_lock.hpp"
#include "statements.hpp"
#include "ticket_counter.hpp"

namespace baton::sqlite::detail {
namespace {

// A counting read is repeated at most this often, so a busy lock cannot
// hold inspect up.
constexpr int max_counting_reads = 8;

// Columns from `first` on: token, owner, host, pid, acquired_at, expires_at.
LockInfo holder_info(const Query& q, int first, std::int64_t now) {
  LockInfo info;
  info.held = true;
  info.token = static_cast<std::uint64_t>(q.int64(first));
  info.owner = q.text(first + 1);
  info.host = q.text(first + 2);
  info.pid = q.int64(first + 3);
  info.acquired_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(q.int64(first + 4)));
  if (auto expires = q.optional_int64(first + 5)) {
    info.expires_in = std::chrono::milliseconds(std::max<std::int64_t>(0, (*expires - now) / 1'000'000));
  } else {
    info.expires_in = forever;
  }
  return info;
}

}  // namespace

SqliteBackend::SqliteBackend(std::shared_ptr<const SharedState> shared)
    : shared_(std::move(shared)), conn_(shared_->connect()) {
  set_up_database(*conn_, shared_->board.get());
}

std::unique_ptr<BackendLock> SqliteBackend::open(std::string_view name, const Owner& owner) {
  return std::make_unique<SqliteLock>(shared_, name, owner);
}

void SqliteBackend::renew_batch(std::span<Renewal> batch) noexcept {
  std::vector<SqliteLock*> locks;
  locks.reserve(batch.size());
  for (const Renewal& r : batch) {
    // Only locks this backend opened are renewed here.
    auto* lock = dynamic_cast<SqliteLock*>(r.lock);
    if (lock == nullptr) return Backend::renew_batch(batch);
    locks.push_back(lock);
  }
  try {
    const PooledConnection conn = shared_->borrow();
    conn->write([&] {
      const auto now = boottime_ns();
      for (std::size_t i = 0; i < batch.size(); ++i) {
        batch[i].result = locks[i]->extend_lease(*conn, batch[i].ttl, now) ? RenewResult::renewed : RenewResult::lost;
      }
    });
  } catch (...) {
    // Not committed: the store could not say, for any of them.
    for (Renewal& r : batch) r.result = RenewResult::unreachable;
  }
}

// A request whose row was committed after the snapshot and whose poster
// freed its entry before the look at the board is in neither count: when
// anything was committed meanwhile, counts again.
template <class F>
auto SqliteBackend::counted_read(F&& body) {
  Connection& conn = *conn_;
  for (int attempt = 1;; ++attempt) {
    std::int64_t version = 0;
    auto result = conn.read([&] {
      auto r = body();
      version = conn.data_version();  // of the snapshot just read
      return r;
    });
    if (!shared_->board || attempt == max_counting_reads) return result;
    if (conn.run([&] { return conn.data_version(); }) == version) return result;
  }
}

std::size_t SqliteBackend::unqueued_requests(std::string_view name, std::int64_t counter) const {
  if (!shared_->board) return 0;
  return shared_->board->join_requests().count_without_row(name, conn_->identity().pid_ns, counter);
}

LockInfo SqliteBackend::inspect(std::string_view name) {
  std::lock_guard lock(mu_);
  Connection& conn = *conn_;
  // One read transaction: the holder and the count from one snapshot.
  return counted_read([&] {
    const auto now = boottime_ns();
    LockInfo info;
    {
      Query holder(conn, Statement::inspect_holder);
      holder.bind_blob(Param::name, name).bind(Param::now, now);
      if (holder.step()) info = holder_info(holder, 0, now);
    }
    info.name = std::string(name);
    {
      Query count(conn, Statement::count_live_waiters);
      count.bind_blob(Param::name, name).bind(Param::now, now);
      if (count.step()) info.waiters = static_cast<std::size_t>(count.int64(0));
    }
    // Posted join requests are waiters whose row this snapshot lacks.
    if (shared_->board) info.waiters += unqueued_requests(name, read_ticket_counter(conn));
    return info;
  });
}

std::vector<LockInfo> SqliteBackend::list() {
  std::lock_guard lock(mu_);
  Connection& conn = *conn_;
  return counted_read([&] {
    std::vector<LockInfo> out;
    const auto now = boottime_ns();
    const auto counter = read_ticket_counter(conn);
    Query q(conn, Statement::list_holders);
    q.bind(Param::now, now);
    while (q.step()) {
      LockInfo info = holder_info(q, 1, now);
      info.name = q.blob(0);
      info.waiters = static_cast<std::size_t>(q.int64(7)) + unqueued_requests(info.name, counter);
      out.push_back(std::move(info));
    }
    return out;
  });
}

bool SqliteBackend::clear(std::string_view name) {
  std::lock_guard lock(mu_);
  Connection& conn = *conn_;
  const bool cleared = conn.run([&] {
    Query q(conn, Statement::clear);
    q.bind_blob(Param::name, name).bind(Param::now, boottime_ns());
    bool was_live = false;
    while (q.step()) was_live = q.int64(0) != 0;
    return was_live;
  });
  // Whoever is first in line finds the lock free.
  wake_first_waiter(*shared_, conn, name);
  return cleared;
}

}  // namespace baton::sqlite::detail
