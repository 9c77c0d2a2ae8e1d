// One Lock instance's side of the PostgreSQL backend (docs/design.md §4.1,
// §4.3, §4.4): acquire on a session of its own, renew and release on that
// same session.
#include <algorithm>
#include <thread>

#include "baton/error.hpp"
#include "baton/kit/deadline.hpp"
#include "postgres_backend.hpp"
#include "values.hpp"

namespace baton::postgres::detail {

using std::chrono::milliseconds;

PostgresLock::PostgresLock(std::shared_ptr<PostgresBackend> backend, std::string name, Owner owner)
    : backend_(std::move(backend)), name_(std::move(name)), key_(advisory_key(name_)), owner_(std::move(owner)) {}

PostgresLock::~PostgresLock() = default;

std::optional<std::uint64_t> PostgresLock::acquire(Clock::time_point deadline, milliseconds ttl,
                                                   std::stop_token stop) {
  return take(Attempt{true, deadline, ttl, std::move(stop)});
}

std::optional<std::uint64_t> PostgresLock::try_acquire(milliseconds ttl) {
  return take(Attempt{false, Clock::time_point::max(), ttl, {}});
}

// A waiter whose session is lost mid-wait (server restart, connection killed
// by a proxy, a stale pooled connection) had its place in the server's queue
// taken away with the session: it reconnects and queues again until its
// deadline, giving up with BackendUnavailable only when the server stays
// unreachable for a whole connect timeout. A try whose session fails has one
// more attempt on a new session, the idle ones dropped: a pooled session the
// server ended (restart, idle timeout, proxy) says nothing of the server now,
// and its idle siblings most likely ended with it. A server that cannot be
// reached at the first attempt fails at once, within the connect timeout
// (§1.12).
std::optional<std::uint64_t> PostgresLock::take(const Attempt& attempt) {
  Clock::time_point give_up = Clock::time_point::min();
  bool try_retried = false;
  for (;;) {
    bool connected = false;
    try {
      if (!conn_) conn_ = backend_->take_connection();
      connected = true;
      return take_once(attempt);
    } catch (const BackendUnavailable&) {
      conn_.reset();
      const auto now = Clock::now();
      if (attempt.stop.stop_requested()) throw;
      if (!attempt.wait) {
        if (!connected || try_retried) throw;
        try_retried = true;
        backend_->drop_idle_connections();
        continue;
      }
      if (connected && give_up == Clock::time_point::min()) {
        give_up = kit::saturating_add(now, backend_->connect_timeout());
      }
      if (now >= give_up || now >= attempt.deadline) throw;
    }
    std::this_thread::sleep_for(std::min(milliseconds(100), kit::remaining(attempt.deadline)));
  }
}

// One acquire statement on this lock's session: the token when granted,
// nothing when the wait timed out, was stopped, or (try) found it taken.
std::optional<std::uint64_t> PostgresLock::take_once(const Attempt& attempt) {
  for (;;) {
    if (!conn_) conn_ = backend_->take_connection();
    const PipelineResult r = run_acquire(attempt);
    if (r.outcome != Outcome::failed) return acquire_outcome(r);
    // 55P03 (lock_timeout) and 57014 (cancelled) may both strike after the
    // advisory lock was granted: lock_timeout also bounds the wait for the
    // name's row that the statement then upserts, and a cancel lands
    // whenever it lands. The advisory lock outlives the rolled-back
    // statement, so the session is closed, which frees it; a session given
    // back to the pool would hold the lock unseen and grant it again to any
    // try_acquire on it. Either ends the attempt once its deadline has passed
    // by our clock, or when it was stopped. Before that it queues again for
    // the time left: a cancel it did not ask for (an operator's
    // pg_cancel_backend) is no answer to an attempt that may still wait, and
    // the server measures lock_timeout by its own clock, which may run ahead
    // of ours.
    if (r.error_sqlstate == "55P03" || r.error_sqlstate == "57014") {
      conn_.reset();
      if (!attempt.wait || attempt.stop.stop_requested() || Clock::now() >= attempt.deadline) return std::nullopt;
      continue;
    }
    // Anything else may have struck after the advisory lock was granted (it
    // outlives the rolled-back statement): drop the session to free it.
    const auto context = conn_->describe() + ": acquiring";
    conn_.reset();
    raise_sqlstate(context, r.error_sqlstate, r.error_message);
  }
}

// BEGIN; the acquire statement (sql.hpp); COMMIT. An explicit transaction,
// so the grant's reply leaves the server the moment COMMIT has made the
// token durable, before the server's idle-time work (statistics,
// ReadyForQuery) that run(before_sync) does not wait for. The deadline
// becomes the server's lock_timeout; the lease, its idle_session_timeout.
std::vector<Statement> PostgresLock::acquire_statements(const Attempt& attempt) const {
  milliseconds lock_timeout{0};
  if (attempt.wait && attempt.deadline != Clock::time_point::max()) {
    lock_timeout = std::max(milliseconds(1), kit::remaining(attempt.deadline));
  }
  // In the order of Sql::acquire's $1..$8.
  std::vector<Param> params{bytes(name_),
                            text(key_),
                            text(owner_.id),
                            text(owner_.host),
                            text(owner_.pid),
                            lease_ms(attempt.ttl),
                            text(guc_ms(lock_timeout)),
                            text(idle_timeout_for(attempt.ttl))};
  const Sql& sql = backend_->sql();
  return {Statement{"BEGIN", {}}, Statement{attempt.wait ? sql.acquire : sql.try_acquire, std::move(params)},
          Statement{"COMMIT", {}}};
}

// Runs the acquire pipeline. lock_timeout ends the wait on the server; the
// client-side cancel and hard deadline are only backstops for a server that
// stops answering. An unbounded wait may take forever. A lost session is
// dropped before the error goes on.
PipelineResult PostgresLock::run_acquire(const Attempt& attempt) {
  Clock::time_point cancel_at = Clock::time_point::max();
  Clock::time_point hard = Clock::time_point::max();
  if (!attempt.wait) {
    hard = backend_->command_deadline();
  } else if (attempt.deadline != Clock::time_point::max()) {
    cancel_at = kit::saturating_add(attempt.deadline, milliseconds(200));
    hard = kit::saturating_add(attempt.deadline, backend_->command_timeout());
  }
  try {
    return conn_->run(acquire_statements(attempt), hard, attempt.stop, cancel_at, /*before_sync=*/true);
  } catch (const BackendUnavailable&) {
    conn_.reset();
    throw;
  }
}

// The token of a successful acquire pipeline (its second statement), or
// nothing when try_acquire found the lock taken (no row).
std::optional<std::uint64_t> PostgresLock::acquire_outcome(const PipelineResult& r) {
  const PGresult* res = r.results.at(1).get();
  if (PQntuples(res) != 1) {
    give_back();
    return std::nullopt;
  }
  token_ = static_cast<std::uint64_t>(field_int(res, 0, 0));
  return token_;
}

bool PostgresLock::renew(milliseconds ttl) {
  if (!conn_) return false;
  try {
    auto r = conn_->run({Statement{backend_->sql().renew, {bytes(name_), text(static_cast<std::int64_t>(token_)),
                                                           lease_ms(ttl), text(idle_timeout_for(ttl))}}},
                        backend_->command_deadline());
    if (r.outcome == Outcome::ok && field(r.results.at(0).get(), 0, 0) == "1") return true;
    if (r.outcome == Outcome::failed && !conn_->broken()) {
      // The session is alive but the statement failed (e.g. the table was
      // dropped): the lock may still be held, so end the session to be sure
      // nobody is blocked by a grant we report lost.
      conn_.reset();
      return false;
    }
  } catch (const BackendUnavailable&) {
    // The session is gone (terminated by clear(), idle timeout, server
    // restart) or unreachable; either way the server frees the lock.
  }
  conn_.reset();
  return false;
}

// Lets go of the advisory lock only (see Sql::release); the session goes
// back to the pool. A session that fails here is dropped, which frees the
// lock on the server as well.
bool PostgresLock::release() {
  if (!conn_) return false;
  try {
    auto r = conn_->run({Statement{backend_->sql().release, {text(key_)}}}, backend_->command_deadline());
    if (r.outcome == Outcome::ok) {
      const bool unlocked = field(r.results.at(0).get(), 0, 0) == "t";
      give_back();
      return unlocked;
    }
  } catch (const BackendUnavailable&) {
  }
  conn_.reset();
  return false;
}

void PostgresLock::give_back() { backend_->give_back(std::move(conn_)); }

}  // namespace baton::postgres::detail
