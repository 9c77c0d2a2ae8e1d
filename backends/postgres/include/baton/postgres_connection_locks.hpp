// baton/postgres_connection_locks.hpp: advisory locks on the caller's own
// PostgreSQL connection, tied to the caller's work (docs/design.md §4.7):
//
//   TransactionLock  pg_advisory_xact_lock: held until the caller's COMMIT
//                    or ROLLBACK, inside a transaction the caller opened;
//   SessionLock      pg_advisory_lock: held on that connection until
//                    released (or the session ends).
//
// For a program that already has a `PGconn*` and wants a lock to commit or
// roll back with its own statements. Both use the key of advisory_key(), so
// they exclude baton::Lock holders and waiters of the same name on the same
// database (and py-postgresql-lock's), in the server's FIFO queue. They
// grant no fencing token and leave no row for inspect(): a name held only
// this way shows as free there, but a baton::Lock of it waits.
//
// The connection must be in blocking mode and idle (no query in flight, no
// pipeline). A PGconn is not thread-safe, so neither is anything using it:
// call these from the thread that owns the connection, and never while it
// runs another statement.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

// libpq's connection type, declared as libpq-fe.h declares it, so that this
// header needs no libpq header.
struct pg_conn;
typedef struct pg_conn PGconn;

namespace baton::postgres {

// A lock held by the caller's current transaction: taken with
// pg_advisory_xact_lock, released by the server at COMMIT or ROLLBACK, and
// by nothing else. Every call requires that `conn` is inside a transaction
// (after BEGIN): outside one it throws std::logic_error, as a transaction
// lock taken there would end with its own statement; in a failed one,
// BackendError.
//
// Copyable and movable: it owns nothing (the lock belongs to the
// transaction); copies name the same lock on the same connection.
class TransactionLock {
 public:
  // `conn` must outlive every call; `name` follows §1.11 (InvalidName).
  TransactionLock(PGconn* conn, std::string name);

  // Blocks until this transaction holds the lock, behind earlier waiters.
  // Taking it again in the same transaction returns at once (the server
  // counts it; all end together). A failure (lost connection, a cancel)
  // throws BackendUnavailable/BackendError and leaves the transaction
  // failed, as any failed statement does.
  void acquire();
  // Waits at most `timeout`: true once held; false when it ran out, with
  // the transaction still usable (the wait runs in a savepoint that is
  // rolled back) and its lock_timeout setting unchanged. Zero or negative:
  // one attempt, as try_acquire().
  bool acquire_for(std::chrono::milliseconds timeout);
  // One attempt that never waits: false while another session holds or
  // waits for the lock.
  bool try_acquire();

  const std::string& name() const noexcept { return name_; }

 private:
  PGconn* conn_;
  std::string name_;
  std::int64_t key_;
};

// A lock held by the caller's session, outside or across transactions:
// pg_advisory_lock, kept until release() or the end of the session (a
// ROLLBACK does not release it). Re-entrant per instance: acquire() while
// this instance holds it counts, and the lock is freed when release() has
// been called as often (§1.2). Two SessionLocks of one name on one
// connection both hold at once, as the server counts per session.
//
// The destructor releases a held lock (errors are swallowed: a broken
// connection has lost the lock anyway). Movable, not copyable.
class SessionLock {
 public:
  // `conn` must outlive this instance; `name` follows §1.11 (InvalidName).
  SessionLock(PGconn* conn, std::string name);
  ~SessionLock();
  SessionLock(SessionLock&& other) noexcept;
  SessionLock& operator=(SessionLock&& other) noexcept;
  SessionLock(const SessionLock&) = delete;
  SessionLock& operator=(const SessionLock&) = delete;

  // Blocks until held, behind earlier waiters; at once when this instance
  // holds it already.
  void acquire();
  // Waits at most `timeout`: true once held, false when it ran out (the
  // connection's transaction state and lock_timeout are as before). Zero or
  // negative: one attempt, as try_acquire().
  bool acquire_for(std::chrono::milliseconds timeout);
  // One attempt that never waits: false while another session holds or
  // waits for the lock; true at once when this instance holds it already.
  bool try_acquire();
  // Undoes one acquire; the last one frees the lock. Throws LockLost when
  // the session no longer held it (its advisory locks were dropped, e.g. by
  // pg_advisory_unlock_all or DISCARD ALL), std::logic_error when this
  // instance does not hold it.
  void release();

  bool holds() const noexcept { return count_ > 0; }
  std::size_t hold_count() const noexcept { return count_; }
  const std::string& name() const noexcept { return name_; }

  // Lockable names, so std::unique_lock and std::scoped_lock work.
  void lock() { acquire(); }
  bool try_lock() { return try_acquire(); }
  void unlock() { release(); }

 private:
  PGconn* conn_;
  std::string name_;
  std::int64_t key_;
  std::size_t count_ = 0;
};

}  // namespace baton::postgres
