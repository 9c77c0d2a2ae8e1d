#include "lock_queue.hpp"

#include "host.hpp"
#include "statements.hpp"
#include "ticket_counter.hpp"

namespace baton::sqlite::detail {

void HandOff::wake_after_commit(WakeBoard* board) const noexcept {
  if (board == nullptr) return;
  if (to != 0) board->record_grant_and_wake(to);
  if (next != 0) board->wake(next);
}

// ---- reads ----------------------------------------------------------------------

// Fills in the holder; returns whether its row is there but dead.
bool LockQueue::read_holder(Standing& s, std::int64_t ticket, std::int64_t now) {
  Query holder(conn_, Statement::read_holder);
  holder.bind_blob(Param::name, name_).bind(Param::now, now);
  if (!holder.step()) return false;
  s.holder = holder.int64(1) != 0;
  s.holder_expires = holder.optional_int64(0);
  // Our releaser made our waiter row the holder row (hand_to_first_waiter()).
  s.granted = s.holder && ticket != behind_everyone && holder.int64(2) == ticket && holder.text(3) == owner_.id;
  return !s.holder;
}

void LockQueue::read_first_ahead(Standing& s, std::int64_t ticket, std::int64_t now, bool purge) {
  {
    Query first(conn_, Statement::read_first_waiter_ahead);
    first.bind_blob(Param::name, name_).bind(Param::ticket, ticket).bind(Param::now, now);
    if (!first.step()) return;
    s.ahead = first.int64(2) != 0;
    s.ahead_deadline = first.int64(1);
    if (s.ahead) return;
  }
  // The first waiter in front is dead (killed, or its heartbeat stopped):
  // drop it and every dead one behind it up to the first live one.
  if (purge) {
    Query(conn_, Statement::purge_dead_waiters_ahead)
        .bind_blob(Param::name, name_)
        .bind(Param::ticket, ticket)
        .bind(Param::now, now)
        .run();
  }
  Query ahead(conn_, Statement::read_first_live_waiter_ahead);
  ahead.bind_blob(Param::name, name_).bind(Param::ticket, ticket).bind(Param::now, now);
  if (ahead.step()) {
    s.ahead = true;
    s.ahead_deadline = ahead.int64(1);
  }
}

// The common case, no row at all or live ones, costs two index lookups and
// no write.
Standing LockQueue::standing(std::int64_t ticket, std::int64_t now, bool purge) {
  Standing s;
  s.ticket = ticket;
  const bool dead_holder = read_holder(s, ticket, now);
  if (s.granted) return s;
  // Only for tidiness: a grant replaces a dead holder row anyway.
  if (dead_holder && purge) {
    Query(conn_, Statement::purge_dead_holder).bind_blob(Param::name, name_).bind(Param::now, now).run();
  }
  read_first_ahead(s, ticket, now, purge);
  return s;
}

Standing LockQueue::read_standing(std::int64_t ticket, Clock::time_point deadline, const std::stop_token* stop) {
  return conn_.read([&] { return standing(ticket, boottime_ns(), false); }, deadline, stop);
}

Standing LockQueue::read_standing_and_version(std::int64_t ticket, Clock::time_point deadline,
                                              const std::stop_token* stop) {
  return conn_.read(
      [&] {
        Standing s = standing(ticket, boottime_ns(), false);
        s.version = conn_.data_version();  // of the snapshot just read
        return s;
      },
      deadline, stop);
}

std::optional<std::int64_t> first_live_waiter(Connection& conn, std::string_view name, std::int64_t now) {
  {
    Query first(conn, Statement::read_first_waiter_ahead);
    first.bind_blob(Param::name, name).bind(Param::ticket, behind_everyone).bind(Param::now, now);
    if (!first.step()) return std::nullopt;
    if (first.int64(2) != 0) return first.int64(0);
  }
  Query ahead(conn, Statement::read_first_live_waiter_ahead);
  ahead.bind_blob(Param::name, name).bind(Param::ticket, behind_everyone).bind(Param::now, now);
  if (ahead.step()) return ahead.int64(0);
  return std::nullopt;
}

// ---- inside a write transaction ---------------------------------------------------

std::int64_t LockQueue::queue_posted_requests(JoinClaims& claims, std::int64_t now, std::optional<int> own) {
  if (!shared_.board) return 0;
  claims.claim_posted(name_);
  std::int64_t mine = 0;
  if (own && !claims.holds(*own)) mine = own_ticket_or_claim(claims, *own, now);
  for (auto& item : claims.items()) {
    if (item.ticket != 0) continue;
    claims.assign(item, take_ticket(conn_));
    insert_waiter_row(claims.request(item), item.ticket, now);
    if (own && item.entry == *own) mine = item.ticket;
  }
  return mine;
}

std::int64_t LockQueue::own_ticket_or_claim(JoinClaims& claims, int entry, std::int64_t now) {
  // We hold the write lock: no other claim on the entry can still commit.
  Query q(conn_, Statement::find_own_ticket);
  q.bind_blob(Param::name, name_).bind_text(Param::owner, owner_.id).bind(Param::now, now);
  if (q.step()) return q.int64(0);
  claims.claim_own(entry);
  return 0;
}

void LockQueue::insert_waiter_row(const JoinRequest& r, std::int64_t ticket, std::int64_t now) {
  Query(conn_, Statement::insert_waiter)
      .bind_blob(Param::name, r.name)
      .bind_text(Param::owner, r.owner)
      .bind_text(Param::host, r.host)
      .bind(Param::pid, r.owner_pid)
      .bind(Param::proc_pid, r.proc_pid)
      .bind(Param::proc_start, r.proc_start)
      .bind_text(Param::pid_ns, r.pid_ns)
      .bind_text(Param::boot_id, r.boot_id)
      .bind(Param::heartbeat_deadline, now + 3 * r.heartbeat_ms * 1'000'000)
      .bind(Param::ticket, ticket)
      .bind(Param::ttl_ms, r.ttl_ms)
      .run();
}

void LockQueue::write_holder_row(std::int64_t ticket, std::int64_t now, std::chrono::milliseconds ttl) {
  const auto self = self_process();
  Query(conn_, Statement::insert_holder)
      .bind_blob(Param::name, name_)
      .bind(Param::token, ticket)
      .bind_text(Param::owner, owner_.id)
      .bind_text(Param::host, owner_.host)
      .bind(Param::pid, owner_.pid)
      .bind(Param::proc_pid, self.pid)
      .bind(Param::proc_start, self.start)
      .bind_text(Param::pid_ns, conn_.identity().pid_ns)
      .bind_text(Param::boot_id, conn_.identity().boot_id)
      .bind(Param::acquired_at, wall_ms())
      .bind(Param::expires_at, lease_end(now, ttl))
      .run();
}

// The waiter finds the grant with one read (or none: the grant word),
// instead of noticing the release and taking the grant in a write
// transaction of its own: a FIFO hand-off costs one transaction fewer, and
// the waiter's wake-up is not followed by a write on the hand-off's
// critical path. The waiter after it is woken too, so it is up and
// watching when its turn comes.
HandOff LockQueue::hand_to_first_waiter(JoinClaims& claims, std::int64_t now) {
  HandOff h;
  if (!shared_.may_have_waiters(name_)) return h;
  // Requests posted since the last write queue first: the holder that just
  // released may have posted its next acquire a moment ago.
  queue_posted_requests(claims, now);
  const auto head = first_live_waiter(now);
  if (!head) return h;
  const int handed = Query(conn_, Statement::hand_to_waiter)
                         .bind(Param::ticket, *head)
                         .bind(Param::acquired_at, wall_ms())
                         .bind(Param::now, now)
                         .bind_blob(Param::name, name_)
                         .run();
  if (handed != 1) {
    h.next = *head;  // not one to hand to: woken, it takes the lock itself
    return h;
  }
  Query(conn_, Statement::delete_waiter).bind(Param::ticket, *head).bind_blob(Param::name, name_).run();
  h.to = *head;
  if (shared_.others_may_wait(name_)) h.next = first_live_waiter(now).value_or(0);
  return h;
}

std::int64_t LockQueue::take_grant(Standing& s, std::int64_t mine, std::int64_t now, std::chrono::milliseconds ttl) {
  if (mine == 0) {
    mine = take_ticket(conn_);
  } else {
    Query(conn_, Statement::delete_waiter).bind(Param::ticket, mine).bind_blob(Param::name, name_).run();
    // More than us counted: someone may be behind us.
    if (shared_.board && shared_.board->waiters(name_) > 1) s.next = first_live_waiter(now).value_or(0);
  }
  write_holder_row(mine, now, ttl);
  s.granted = true;
  return mine;
}

std::int64_t LockQueue::insert_own_waiter_row(std::int64_t now, std::chrono::milliseconds ttl) {
  const auto ticket = take_ticket(conn_);
  insert_waiter_row(join_request(ttl), ticket, now);
  return ticket;
}

// ---- whole write transactions -----------------------------------------------------

Standing LockQueue::join_or_take(std::int64_t ticket, std::chrono::milliseconds ttl, Clock::time_point deadline,
                                 const std::stop_token* stop, std::optional<int> own) {
  JoinClaims claims(shared_.join_requests());
  const auto heartbeat_ns = 3 * shared_.settings.heartbeat.count() * 1'000'000;
  Standing out = conn_.write(
      [&] {
        claims.give_back();  // a retry claims afresh
        const auto now = boottime_ns();
        std::int64_t mine = ticket;
        // Requests are posted only by counted waiters, and we are counted
        // ourselves: with nobody else counted there is nothing to queue.
        if (own || shared_.others_may_wait(name_)) {
          const auto queued = queue_posted_requests(claims, now, own);
          if (own) mine = queued;
        }
        Standing s = standing(mine != 0 ? mine : behind_everyone, now, true);
        if (s.granted) return s;  // handed to us by its releaser
        // Our row is gone only if we stalled past three heartbeats and were
        // pruned: queue again at the back rather than hold a stale place.
        if (mine != 0 && Query(conn_, Statement::refresh_heartbeat)
                                 .bind(Param::ticket, mine)
                                 .bind(Param::heartbeat_deadline, now + heartbeat_ns)
                                 .bind_blob(Param::name, name_)
                                 .run() == 0) {
          mine = 0;
          s = standing(behind_everyone, now, true);
        }
        if (!s.holder && !s.ahead) {
          mine = take_grant(s, mine, now, ttl);
        } else {
          if (mine == 0) mine = insert_own_waiter_row(now, ttl);
          s.version = conn_.data_version();
        }
        s.ticket = mine;
        return s;
      },
      deadline, stop);
  // Requests queued ahead of us while the lock is free: their first is to
  // take it, and nobody else will wake it.
  if (claims.commit() != 0 && !out.granted && !out.holder) wake_first_waiter();
  return out;
}

void LockQueue::leave(std::int64_t ticket) {
  HandOff h;
  JoinClaims claims(shared_.join_requests());
  const bool handed = conn_.write([&] {
    claims.give_back();
    Query(conn_, Statement::delete_waiter).bind(Param::ticket, ticket).bind_blob(Param::name, name_).run();
    // Our releaser may have handed us the lock after all: pass it on.
    const int dropped = Query(conn_, Statement::drop_own_holder)
                            .bind_blob(Param::name, name_)
                            .bind(Param::token, ticket)
                            .bind_text(Param::owner, owner_.id)
                            .run();
    if (dropped == 0) return false;
    h = hand_to_first_waiter(claims, boottime_ns());
    return true;
  });
  claims.commit();
  if (handed) {
    h.wake_after_commit(shared_.board.get());
  } else {
    // We may have been next: the one behind us is now.
    wake_first_waiter();
  }
}

std::int64_t LockQueue::withdraw_request(int entry) {
  JoinRequests& requests = *shared_.join_requests();
  if (requests.cancel(entry)) return 0;
  // Claimed or queued already: once we hold the write lock no claim is in
  // flight, so the database says whether a row was written for us; if none
  // was, we claim the request ourselves, and release() below frees it.
  JoinClaims claims(&requests);
  const auto ticket = conn_.write([&] {
    claims.give_back();
    return own_ticket_or_claim(claims, entry, boottime_ns());
  });
  requests.release(entry);
  claims.give_back();
  return ticket;
}

// ---- after a commit ---------------------------------------------------------------

void wake_first_waiter(const SharedState& shared, Connection& conn, std::string_view name) noexcept {
  WakeBoard* board = shared.board.get();
  if (board == nullptr || !board->may_have_waiters(name)) return;
  // Posted join requests nobody took up: their posters look for themselves.
  board->join_requests().wake_posters_of(name);
  try {
    if (auto ticket = conn.read([&] { return first_live_waiter(conn, name, boottime_ns()); })) board->wake(*ticket);
  } catch (...) {
    // The waiter finds its turn by polling.
  }
}

JoinRequest LockQueue::join_request(std::chrono::milliseconds ttl) const {
  const auto self = self_process();
  JoinRequest r;
  r.name = name_;
  r.owner = owner_.id;
  r.host = owner_.host;
  r.pid_ns = conn_.identity().pid_ns;
  r.boot_id = conn_.identity().boot_id;
  r.owner_pid = owner_.pid;
  r.proc_pid = self.pid;
  r.proc_start = self.start;
  r.heartbeat_ms = shared_.settings.heartbeat.count();
  // The lease a releaser gives us when it hands us the lock; -1 (also for a
  // lease so long it would overflow) is forever.
  r.ttl_ms = lease_end(0, ttl) ? ttl.count() : std::int64_t{-1};
  return r;
}

void LockQueue::prepare_release(bool waiters) noexcept {
  conn_.prepare({Statement::begin_immediate, Statement::release, Statement::commit});
  if (waiters) {
    conn_.prepare({Statement::read_first_waiter_ahead, Statement::read_first_live_waiter_ahead,
                   Statement::hand_to_waiter, Statement::delete_waiter, Statement::next_ticket,
                   Statement::read_ticket, Statement::insert_waiter});
  }
}

}  // namespace baton::sqlite::detail
