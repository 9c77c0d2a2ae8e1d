#include "sqlite_lock.hpp"

#include <utility>

#include "acquisition.hpp"
#include "host.hpp"
#include "statements.hpp"
#include "ticket_counter.hpp"

namespace baton::sqlite::detail {

SqliteLock::SqliteLock(std::shared_ptr<const SharedState> shared, std::string_view name, Owner owner)
    : shared_(std::move(shared)), name_(name), owner_(std::move(owner)) {}

std::optional<std::uint64_t> SqliteLock::acquire(Clock::time_point deadline, std::chrono::milliseconds ttl,
                                                 std::stop_token stop) {
  const PooledConnection conn = shared_->borrow();
  LockQueue queue(*shared_, *conn, name_, owner_);
  Acquisition acquisition(queue, *shared_, ttl, deadline, std::move(stop));
  const auto token = acquisition.run();
  if (!token) return std::nullopt;
  token_ = *token;
  return static_cast<std::uint64_t>(*token);
}

// One write transaction: the lock is taken only if nobody holds it and
// nobody waits; the token comes from the same counter as every waiter's
// ticket.
std::optional<std::uint64_t> SqliteLock::try_acquire(std::chrono::milliseconds ttl) {
  const PooledConnection conn = shared_->borrow();
  LockQueue queue(*shared_, *conn, name_, owner_);
  JoinClaims claims(shared_->join_requests());
  const auto token = conn->write([&]() -> std::int64_t {
    claims.give_back();
    const auto now = boottime_ns();
    // A posted join request is a waiter ahead of us: queue it, so it counts.
    if (shared_->may_have_waiters(name_)) queue.queue_posted_requests(claims, now);
    const Standing s = queue.standing(behind_everyone, now, true);
    if (s.holder || s.ahead) return 0;
    const auto ticket = take_ticket(*conn);
    queue.write_holder_row(ticket, now, ttl);
    return ticket;
  });
  // Requests queued by us stand before a free lock: wake their first.
  if (claims.commit() != 0 && token == 0) queue.wake_first_waiter();
  if (token == 0) return std::nullopt;
  token_ = token;
  return static_cast<std::uint64_t>(token);
}

bool SqliteLock::renew(std::chrono::milliseconds ttl) {
  const PooledConnection conn = shared_->borrow();
  return conn->run([&] { return extend_lease(*conn, ttl, boottime_ns()); });
}

bool SqliteLock::extend_lease(Connection& conn, std::chrono::milliseconds ttl, std::int64_t now) {
  return Query(conn, Statement::renew)
             .bind_blob(Param::name, name_)
             .bind(Param::token, token_)
             .bind_text(Param::owner, owner_.id)
             .bind(Param::expires_at, lease_end(now, ttl))
             .bind_text(Param::boot_id, conn.identity().boot_id)
             .bind(Param::now, now)
             .run() == 1;
}

// A live grant is handed to the first live waiter in the same transaction
// (docs/design.md §3.3). An expired one still there is ours to tidy away:
// nobody has taken the lock since, or the row would be theirs; the token
// and owner make sure no newer grant is touched.
bool SqliteLock::release() {
  const PooledConnection conn = shared_->borrow();
  LockQueue queue(*shared_, *conn, name_, owner_);
  queue.prepare_release(shared_->may_have_waiters(name_));
  HandOff hand_off;
  JoinClaims claims(shared_->join_requests());
  const bool live = conn->write([&] {
    claims.give_back();
    const auto now = boottime_ns();
    const int released = Query(*conn, Statement::release)
                             .bind_blob(Param::name, name_)
                             .bind(Param::token, token_)
                             .bind_text(Param::owner, owner_.id)
                             .bind_text(Param::boot_id, conn->identity().boot_id)
                             .bind(Param::now, now)
                             .run();
    if (released == 1) {
      hand_off = queue.hand_to_first_waiter(claims, now);
      return true;
    }
    Query(*conn, Statement::drop_own_holder)
        .bind_blob(Param::name, name_)
        .bind(Param::token, token_)
        .bind_text(Param::owner, owner_.id)
        .run();
    return false;
  });
  claims.commit();
  token_ = 0;
  if (!live) {
    // Not ours to hand on: whoever is first finds the lock free, if it is.
    queue.wake_first_waiter();
    return false;
  }
  WakeBoard* board = shared_->board.get();
  hand_off.wake_after_commit(board);
  // A request posted while this transaction ran was not taken up: its
  // poster looks at the queue again (it saw us holding).
  if (board != nullptr && board->may_have_waiters(name_)) board->join_requests().wake_posters_of(name_);
  return true;
}

}  // namespace baton::sqlite::detail
