// One Lock instance's side of the Redis backend (docs/design.md §5.3, §5.4):
// the acquire script, then, while queued, BLPOP on the waiter's own wake
// list with the poll script pipelined behind it.
#include <algorithm>
#include <cstdio>

#include "baton/error.hpp"
#include "baton/kit/deadline.hpp"
#include "redis_backend.hpp"

namespace baton::redis::detail {

using std::chrono::milliseconds;

namespace {

// A lease as LEASE_MS: "0" for forever.
std::string lease_arg(milliseconds ttl) { return ttl == forever ? "0" : std::to_string(ttl.count()); }

// The acquire and poll scripts answer {1, token} for a grant.
bool is_grant(const Reply& reply) { return as_int(reply->element[0]) == 1; }

}  // namespace

RedisLock::RedisLock(std::shared_ptr<RedisBackend> backend, std::string name, Owner owner)
    : backend_(std::move(backend)),
      keys_(backend_->keys_for(name)),
      wake_prefix_(backend_->wake_prefix(name)),
      owner_(std::move(owner)),
      pid_(std::to_string(owner_.pid)) {}

RedisLock::~RedisLock() {
  if (uncertain_) leave("");
}

Connection& RedisLock::conn() {
  if (!conn_ || conn_->dead()) {
    auto fresh = backend_->take_connection();
    std::lock_guard lock(conn_mu_);
    conn_ = std::move(fresh);
  }
  return *conn_;
}

void RedisLock::give_back() {
  std::unique_ptr<Connection> c;
  {
    std::lock_guard lock(conn_mu_);
    c = std::move(conn_);
  }
  backend_->give_back(std::move(c));
}

ScriptArgs RedisLock::script_args(std::string operand, milliseconds ttl) const {
  ScriptArgs args;
  args.owner = owner_.id;
  args.host = owner_.host;
  args.pid = pid_;
  args.lease_ms = lease_arg(ttl);
  args.operand = std::move(operand);
  args.waiter_ttl_ms = std::to_string(backend_->waiter_ttl().count());
  args.wake_prefix = wake_prefix_;
  return args;
}

Reply RedisLock::run(Script& script, std::string operand, milliseconds ttl) {
  return backend_->eval(conn(), script, keys_, script_args(std::move(operand), ttl));
}

// Records the token of a grant reply ({1, token}) and returns it.
std::uint64_t RedisLock::granted(const Reply& reply) {
  token_ = static_cast<std::uint64_t>(as_int(reply->element[1]));
  return token_;
}

std::optional<std::uint64_t> RedisLock::try_acquire(milliseconds ttl) {
  uncertain_ = true;
  auto r = run(backend_->scripts.acquire, "try", ttl);
  uncertain_ = false;
  if (is_grant(r)) return granted(r);
  give_back();
  return std::nullopt;
}

// The acquire script in "queue" mode: a grant, or a place in the queue
// ({0, ticket, holder pttl}). Until its reply is read, the server may have
// granted or queued us without our knowing.
Reply RedisLock::enter_queue(milliseconds ttl) {
  uncertain_ = true;
  auto r = run(backend_->scripts.acquire, "queue", ttl);
  uncertain_ = false;
  return r;
}

std::optional<std::uint64_t> RedisLock::acquire(Clock::time_point deadline, milliseconds ttl, std::stop_token stop) {
  auto r = enter_queue(ttl);
  if (is_grant(r)) return granted(r);
  // A stop request shuts the socket, ending a BLPOP at once; the queue entry
  // is then removed on a fresh connection.
  std::stop_callback on_stop(stop, [this] { interrupt_unless_shielded(); });
  return wait_in_queue(Place{as_str(r->element[1]), as_int(r->element[2]), false}, deadline, ttl, stop);
}

void RedisLock::interrupt_unless_shielded() noexcept {
  std::lock_guard lock(conn_mu_);
  if (conn_ && !shielded_) conn_->interrupt();
}

// Waits and polls until granted, stopped, or past the deadline (then the
// queue entry is left without a trace). A connection failure leaves the
// queue too, best effort, and goes on as BackendUnavailable.
std::optional<std::uint64_t> RedisLock::wait_in_queue(Place place, Clock::time_point deadline, milliseconds ttl,
                                                      const std::stop_token& stop) {
  for (;;) {
    if (stop.stop_requested() || Clock::now() >= deadline) {
      leave(place.ticket);
      return std::nullopt;
    }
    const milliseconds wait = next_wait(place, deadline);
    try {
      // A stop request interrupts the connection current when it comes.
      // One that came before conn() interrupted a connection conn() just
      // replaced: it must be seen here, or we would block a whole wait on
      // the new one. One that comes after interrupts `c`.
      Connection& c = conn();
      if (stop.stop_requested()) continue;
      auto p = wait_and_poll(c, wait, place.ticket, ttl);
      const long long state = as_int(p->element[0]);
      if (state == 1) return granted(p);
      if (state == -1) {
        // Pruned as dead (this process stalled past its liveness): queue again.
        auto again = enter_queue_shielded(ttl);
        if (is_grant(again)) return granted(again);
        place = Place{as_str(again->element[1]), as_int(again->element[2]), false};
        continue;
      }
      place.holder_pttl = as_int(p->element[1]);
      place.head = as_int(p->element[2]) == 1;
    } catch (const BackendUnavailable&) {
      if (stop.stop_requested()) continue;  // our own interrupt: leave above
      leave(place.ticket);
      uncertain_ = true;
      throw;
    }
  }
}

// How long the next BLPOP may sleep: until woken, but never past the
// heartbeat (the poll behind it refreshes our liveness), the deadline, or,
// for the head, the holder's lease, since an expiry wakes nobody.
milliseconds RedisLock::next_wait(const Place& place, Clock::time_point deadline) const {
  milliseconds wait = std::min(backend_->heartbeat(), kit::remaining(deadline));
  if (place.head && place.holder_pttl >= 0) wait = std::min(wait, milliseconds(place.holder_pttl + 1));
  return std::max(wait, milliseconds(1));
}

// The acquire script again, with stop requests held off until its reply is
// read: an interrupted call would queue a new ticket on the server unknown
// to us, and leave() would then remove the old one instead. It is one short
// script; the stop is seen right after it.
Reply RedisLock::enter_queue_shielded(milliseconds ttl) {
  {
    std::lock_guard lock(conn_mu_);
    shielded_ = true;
  }
  struct Unshield {
    RedisLock* self;
    ~Unshield() {
      std::lock_guard lock(self->conn_mu_);
      self->shielded_ = false;
    }
  } unshield{this};
  return run(backend_->scripts.acquire, "queue", ttl);
}

// BLPOP on the wake key with the poll script pipelined behind it on the same
// connection: the server runs the poll the moment the BLPOP returns (woken,
// or timed out: then the poll is the heartbeat), so a wake-up becomes a grant
// without a client round trip in between. A waiter killed while blocked
// takes its connection, and so its unsent poll, with it. Returns the poll's
// reply (error replies thrown, as by run()).
Reply RedisLock::wait_and_poll(Connection& c, milliseconds wait, const std::string& ticket, milliseconds ttl) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", static_cast<double>(wait.count()) / 1000.0);
  const std::string sha = backend_->sha(c, backend_->scripts.poll);
  const std::vector<std::string> poll_argv = script_args(ticket, ttl).to_argv();
  const std::string wake_key = wake_prefix_ + ticket;
  // From here until both replies are read, the server may grant us the lock
  // without our knowing: a failure leaves it to leave() or the next acquire.
  uncertain_ = true;
  auto replies = c.pipeline({{"BLPOP", wake_key, seconds}, evalsha_argv(sha, keys_, poll_argv)}, wait);
  uncertain_ = false;
  Reply& woke = replies[0];
  Reply& poll = replies[1];
  const bool poll_granted = poll->type == REDIS_REPLY_ARRAY && poll->elements > 0 && as_int(poll->element[0]) == 1;
  if (!poll_granted) check(std::move(woke), backend_->endpoint().describe() + ": BLPOP");
  // A server that forgot the script (restarted) ran nothing: poll again,
  // loading it.
  if (is_noscript(poll.get())) return run(backend_->scripts.poll, ticket, ttl);
  return check(std::move(poll), backend_->endpoint().describe() + ": script");
}

// Leaves the queue, and drops any grant of ours whose reply was lost.
void RedisLock::leave(std::string_view ticket) noexcept {
  // The connection we waited on may have died unnoticed (the server closed
  // it): one more try on another. When a connection taken just for this
  // fails, the server is out of reach, and more tries would only delay the
  // error the caller is about to report; the entry is then pruned when its
  // liveness deadline passes.
  for (bool fresh = false; !fresh;) {
    fresh = !conn_ || conn_->dead();
    try {
      run(backend_->scripts.leave, std::string(ticket), milliseconds(0));
      uncertain_ = false;
      give_back();
      return;
    } catch (...) {
      std::lock_guard lock(conn_mu_);
      conn_.reset();
    }
  }
}

bool RedisLock::renew(milliseconds ttl) {
  auto r = run(backend_->scripts.renew, std::to_string(token_), ttl);
  return as_int(r.get()) == 1;
}

bool RedisLock::release() {
  auto r = run(backend_->scripts.release, std::to_string(token_), milliseconds(0));
  give_back();
  return as_int(r.get()) == 1;
}

}  // namespace baton::redis::detail
