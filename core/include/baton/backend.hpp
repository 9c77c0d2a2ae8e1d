// baton/backend.hpp: the interface every store implements.
//
// A backend owns only the shared, atomic state of locks: the FIFO queue, the
// lease, the fencing-token counter and a way to wake the next waiter.
// Everything that is the same on every store (re-entrancy, deadline
// arithmetic, background renewal, lost-lease handling, name validation) lives
// in the core and is not a backend's business.
//
// To write a backend: derive from Backend and BackendLock, register a factory
// (baton/registry.hpp) and run the conformance suite against it
// (baton/conformance.hpp). Names reach a backend already validated.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "baton/lock_info.hpp"
#include "baton/options.hpp"

namespace baton {

// Who holds or waits: one Lock instance in one process. Aggregate; copyable.
struct Owner {
  std::string id;        // unique per Lock instance (random, 32 hex digits)
  std::string host;      // gethostname()
  std::int64_t pid = 0;  // getpid()
};

// The backend's side of one Lock instance: one name, one owner, at most one
// grant at a time. Created by Backend::open().
//
// Thread-safety: the core calls a BackendLock from one thread at a time
// (never two calls at once), but not always from the same thread: renew() is
// usually called from the manager's renewal thread. A BackendLock may outlive
// the LockManager that opened it; it must keep alive whatever it uses
// (typically a shared_ptr to its Backend). Not copyable, not movable (held by
// unique_ptr).
class BackendLock {
 public:
  BackendLock() = default;
  BackendLock(const BackendLock&) = delete;
  BackendLock& operator=(const BackendLock&) = delete;
  // Called without a grant held (the core releases first); must not throw.
  virtual ~BackendLock() = default;

  // Joins the queue for the name and blocks until this owner is granted the
  // lock (returns the grant's fencing token, strictly greater than every
  // earlier token for the name), or until `deadline` passes or `stop` is
  // requested (returns nullopt). On nullopt nothing of this attempt remains
  // in the store: waiters behind it are not delayed. `deadline` is never in
  // the past (the core calls try_acquire() instead); Clock::time_point::max()
  // means no deadline. `ttl` is the lease of
  // the grant (`baton::forever`: none). Throws BackendUnavailable when the
  // store cannot be reached; a busy store is waited out, not reported.
  virtual std::optional<std::uint64_t> acquire(Clock::time_point deadline,
                                               std::chrono::milliseconds ttl,
                                               std::stop_token stop) = 0;

  // One attempt that never queues: grants only if nobody holds the lock (or
  // the holder's lease has expired) and nobody is waiting. Returns the token,
  // or nullopt on contention. Does not block beyond one round trip.
  virtual std::optional<std::uint64_t> try_acquire(std::chrono::milliseconds ttl) = 0;

  // Extends the current grant's lease to `ttl` from now. Returns false when
  // the grant is gone (expired, cleared, its connection dropped): then this
  // owner holds nothing and a new grant needs acquire(). Only called while
  // the core believes it holds.
  virtual bool renew(std::chrono::milliseconds ttl) = 0;

  // Frees the current grant. Returns false when the grant was already gone
  // (it must then not disturb any newer grant of the name: compare owner and
  // token). Only called while the core believes it holds.
  virtual bool release() = 0;
};

// What one renewal of a renew_batch() call found.
enum class RenewResult {
  renewed,      // the lease now ends `ttl` from the call (renew() true)
  lost,         // this grant alone is gone (renew() false)
  unreachable,  // the store could not say (renew() threw)
};

// One lease extension of a renew_batch() call. Aggregate; copyable.
struct Renewal {
  BackendLock* lock = nullptr;      // opened by the same Backend, holding
  std::chrono::milliseconds ttl{};  // as renew()'s
  RenewResult result = RenewResult::unreachable;  // set by renew_batch()
};

// A store of locks. Thread-safety: every method may be called from any
// thread, concurrently. Held by shared_ptr; not copyable.
class Backend : public std::enable_shared_from_this<Backend> {
 public:
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;
  virtual ~Backend() = default;

  // The registry name of this backend (the config's "backend" value).
  virtual std::string_view kind() const noexcept = 0;

  // The backend side of a new Lock instance for `name`, owned by `owner`.
  // Must not block for long (may connect).
  virtual std::unique_ptr<BackendLock> open(std::string_view name, const Owner& owner) = 0;

  // A snapshot of `name`: `held` false (and holder fields empty) when free.
  virtual LockInfo inspect(std::string_view name) = 0;

  // A snapshot of every held lock, in no particular order.
  virtual std::vector<LockInfo> list() = 0;

  // Frees `name` whoever holds it (admin operation). Queued waiters keep their
  // places; the old holder's later renew()/release() report the loss and
  // never free the next grant. Returns true if a live grant was removed.
  virtual bool clear(std::string_view name) = 0;

  // Extends the lease of every lock in `batch` and sets each one's result,
  // in as few round trips as the store allows; a lock found gone is
  // reported lost alone, the others renewed. Called from a manager's renewal
  // thread, which holds each lock's one-call-at-a-time turn meanwhile (no
  // other call on those locks runs), so it blocks that thread only: for one
  // round trip per batch, or until the store is judged unreachable. Never
  // throws. The default calls each lock's renew() in turn (an exception
  // makes that one unreachable).
  virtual void renew_batch(std::span<Renewal> batch) noexcept;
};

}  // namespace baton
