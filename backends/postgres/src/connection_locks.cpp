// TransactionLock and SessionLock: advisory locks on the caller's own
// connection (docs/design.md §4.7). Every statement runs on that
// connection through exec_on_caller() (caller_connection.hpp), as fence()'s
// do.
#include <libpq-fe.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "baton/error.hpp"
#include "baton/name.hpp"
#include "baton/postgres.hpp"
#include "baton/postgres_connection_locks.hpp"
#include "caller_connection.hpp"
#include "connection.hpp"

namespace baton::postgres {
namespace {

using std::chrono::milliseconds;
using detail::exec_on_caller;
using detail::Result;

constexpr const char* lock_not_available = "55P03";  // lock_timeout ran out

// The single boolean a lock function returned.
bool run_bool(PGconn* conn, const std::string& doing, const char* sql, std::int64_t key) {
  const Result result = exec_on_caller(conn, sql, {std::to_string(key)}, doing);
  return PQntuples(result.get()) == 1 && std::string_view(PQgetvalue(result.get(), 0, 0)) == "t";
}

// Throws unless `conn` can run a statement now: connected, not busy, and
// not inside a failed transaction.
void require_usable(PGconn* conn, std::string_view context) {
  if (conn == nullptr) throw BackendError(std::string(context) + ": the connection is null");
  switch (PQtransactionStatus(conn)) {
    case PQTRANS_IDLE:
    case PQTRANS_INTRANS:
      return;
    case PQTRANS_INERROR:
      throw BackendError(std::string(context) + ": the connection's transaction has failed; roll it back first");
    case PQTRANS_ACTIVE:
      throw BackendError(std::string(context) + ": the connection is running another statement");
    default:
      detail::raise_sqlstate(std::string(context), "08006", PQerrorMessage(conn));
  }
}

}  // namespace

namespace {

// Runs `lock_sql` ($1: the key) with lock_timeout set to `timeout`, inside a
// savepoint, or a transaction of its own when the connection is idle, so
// that running out leaves the connection as it was: the savepoint is rolled
// back (and with it the setting), and on success the caller's lock_timeout
// is set back before the savepoint is released. A lock taken in a released
// savepoint belongs to the enclosing transaction (transaction locks) or the
// session (session locks). True once held, false when the timeout ran out.
bool lock_within(PGconn* conn, const std::string& doing, const char* lock_sql, std::int64_t key,
                 milliseconds timeout) {
  const bool own_transaction = PQtransactionStatus(conn) == PQTRANS_IDLE;
  exec_on_caller(conn, own_transaction ? "BEGIN" : "SAVEPOINT baton_lock_attempt", {}, doing);
  const auto undo = [&] {
    PQclear(PQexec(conn, own_transaction ? "ROLLBACK" : "ROLLBACK TO SAVEPOINT baton_lock_attempt"));
    if (!own_transaction) PQclear(PQexec(conn, "RELEASE SAVEPOINT baton_lock_attempt"));
  };
  Result previous;
  Result locked;
  try {
    previous = exec_on_caller(conn, "SELECT current_setting('lock_timeout')", {}, doing);
    const auto ms = std::clamp<long long>(timeout.count(), 1, INT_MAX);
    exec_on_caller(conn, "SELECT set_config('lock_timeout', $1, true)", {std::to_string(ms) + "ms"}, doing);
    locked = exec_on_caller(conn, lock_sql, {std::to_string(key)}, doing, lock_not_available);
  } catch (...) {
    undo();
    throw;
  }
  if (PQresultStatus(locked.get()) == PGRES_FATAL_ERROR) {  // the expected 55P03: the timeout ran out
    undo();
    return false;
  }
  if (own_transaction) {
    exec_on_caller(conn, "COMMIT", {}, doing);
  } else {
    exec_on_caller(conn, "SELECT set_config('lock_timeout', $1, true)", {PQgetvalue(previous.get(), 0, 0)}, doing);
    exec_on_caller(conn, "RELEASE SAVEPOINT baton_lock_attempt", {}, doing);
  }
  return true;
}

}  // namespace

// ---- TransactionLock --------------------------------------------------------

TransactionLock::TransactionLock(PGconn* conn, std::string name)
    : conn_(conn), name_(std::move(name)), key_((validate_name(name_), advisory_key(name_))) {}

namespace {

void require_transaction(PGconn* conn, std::string_view context) {
  require_usable(conn, context);
  if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
    throw std::logic_error(std::string(context) +
                           ": the connection is not in a transaction (BEGIN first); a transaction lock would "
                           "end with its own statement");
  }
}

}  // namespace

void TransactionLock::acquire() {
  const std::string context = "postgres: TransactionLock(\"" + name_ + "\").acquire";
  require_transaction(conn_, context);
  exec_on_caller(conn_, "SELECT pg_advisory_xact_lock($1::bigint)", {std::to_string(key_)}, context);
}

bool TransactionLock::acquire_for(milliseconds timeout) {
  if (timeout <= milliseconds::zero()) return try_acquire();
  const std::string context = "postgres: TransactionLock(\"" + name_ + "\").acquire_for";
  require_transaction(conn_, context);
  return lock_within(conn_, context, "SELECT pg_advisory_xact_lock($1::bigint)", key_, timeout);
}

bool TransactionLock::try_acquire() {
  const std::string context = "postgres: TransactionLock(\"" + name_ + "\").try_acquire";
  require_transaction(conn_, context);
  return run_bool(conn_, context, "SELECT pg_try_advisory_xact_lock($1::bigint)", key_);
}

// ---- SessionLock ------------------------------------------------------------

SessionLock::SessionLock(PGconn* conn, std::string name)
    : conn_(conn), name_(std::move(name)), key_((validate_name(name_), advisory_key(name_))) {}

SessionLock::~SessionLock() {
  if (count_ == 0 || conn_ == nullptr || PQtransactionStatus(conn_) == PQTRANS_ACTIVE) return;
  try {
    exec_on_caller(conn_, "SELECT pg_advisory_unlock($1::bigint)", {std::to_string(key_)}, "SessionLock released by its destructor");
  } catch (...) {  // a broken connection has lost the lock anyway
  }
}

SessionLock::SessionLock(SessionLock&& other) noexcept
    : conn_(other.conn_), name_(std::move(other.name_)), key_(other.key_), count_(std::exchange(other.count_, 0)) {}

SessionLock& SessionLock::operator=(SessionLock&& other) noexcept {
  if (this != &other) {
    SessionLock old(std::move(*this));  // releases what this instance held
    conn_ = other.conn_;
    name_ = std::move(other.name_);
    key_ = other.key_;
    count_ = std::exchange(other.count_, 0);
  }
  return *this;
}

void SessionLock::acquire() {
  if (count_ > 0) {
    ++count_;
    return;
  }
  const std::string context = "postgres: SessionLock(\"" + name_ + "\").acquire";
  require_usable(conn_, context);
  exec_on_caller(conn_, "SELECT pg_advisory_lock($1::bigint)", {std::to_string(key_)}, context);
  count_ = 1;
}

bool SessionLock::acquire_for(milliseconds timeout) {
  if (count_ > 0 || timeout <= milliseconds::zero()) return try_acquire();
  const std::string context = "postgres: SessionLock(\"" + name_ + "\").acquire_for";
  require_usable(conn_, context);
  if (!lock_within(conn_, context, "SELECT pg_advisory_lock($1::bigint)", key_, timeout)) return false;
  count_ = 1;
  return true;
}

bool SessionLock::try_acquire() {
  if (count_ > 0) {
    ++count_;
    return true;
  }
  const std::string context = "postgres: SessionLock(\"" + name_ + "\").try_acquire";
  require_usable(conn_, context);
  if (!run_bool(conn_, context, "SELECT pg_try_advisory_lock($1::bigint)", key_)) return false;
  count_ = 1;
  return true;
}

void SessionLock::release() {
  if (count_ == 0) throw std::logic_error("SessionLock(\"" + name_ + "\").release: this instance does not hold it");
  if (--count_ > 0) return;
  const std::string context = "postgres: SessionLock(\"" + name_ + "\").release";
  require_usable(conn_, context);
  if (!run_bool(conn_, context, "SELECT pg_advisory_unlock($1::bigint)", key_)) {
    throw LockLost(context + ": the session no longer held the lock (its advisory locks were dropped)");
  }
}

}  // namespace baton::postgres
