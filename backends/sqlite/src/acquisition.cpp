#include "acquisition.hpp"

#include <algorithm>
#include <thread>

#include "baton/kit/deadline.hpp"
#include "host.hpp"
#include "sqlite_error.hpp"

namespace baton::sqlite::detail {
namespace {

using namespace std::chrono_literals;

// With the wake board, whoever frees a lock wakes the first live waiter (a
// hand-off also the one after it), so waiters sleep and look only when
// woken, or as a safety net for a wake that never came (its sender died
// between commit and wake). The head re-reads the holder's row this often
// even when nothing was written, so a holder killed by SIGKILL (which writes
// nothing) is noticed quickly through its pid (docs/design.md §3.4).
constexpr auto head_liveness_probe = 50ms;
// Waiters further back only need a change to move up; this is a safety net.
constexpr auto queue_liveness_probe = 1s;

// Sleeps until `until`, waking at least every 5 ms to look at `stop`.
void nap_until(Clock::time_point until, const std::stop_token& stop) {
  for (;;) {
    auto now = Clock::now();
    if (now >= until || stop.stop_requested()) return;
    std::this_thread::sleep_for(std::min<Clock::duration>(until - now, 5ms));
  }
}

}  // namespace

Acquisition::Acquisition(LockQueue& queue, const SharedState& shared, std::chrono::milliseconds ttl,
                         Clock::time_point deadline, std::stop_token stop)
    : queue_(queue),
      shared_(shared),
      board_(shared.board.get()),
      ttl_(ttl),
      deadline_(deadline),
      stop_(std::move(stop)),
      // Without the board, polling `PRAGMA data_version` is all there is.
      head_poll_(board_ ? Clock::duration(head_liveness_probe)
                        : std::clamp<Clock::duration>(shared.settings.poll / 4, 250us, 1ms)),
      queue_poll_(board_ ? Clock::duration(queue_liveness_probe) : Clock::duration(shared.settings.poll)),
      counted_(board_, queue.name()),
      on_stop_(stop_, WakeOnStop{this}) {}

void Acquisition::WakeOnStop::operator()() const noexcept {
  if (self->board_ == nullptr) return;
  if (auto ticket = self->sleeping_on_.load(); ticket != 0) self->board_->wake(ticket);
  if (auto entry = self->posted_as_.load(); entry >= 0) self->board_->join_requests().wake(entry);
}

std::optional<std::int64_t> Acquisition::run() {
  try {
    State state = start();
    for (;;) {
      switch (state) {
        case State::posted: state = while_posted(); break;
        case State::queued: state = while_queued(); break;
        case State::granted: return on_granted();
      }
    }
  } catch (const Interrupted&) {
    abandon();
    return std::nullopt;
  } catch (...) {
    abandon_after_error();
    throw;
  }
}

// Others wait already: the lock is most likely held, and whoever releases
// it can queue us in the same write transaction, so we post a join request.
// Otherwise (or when none can be posted) we queue ourselves; a busy database
// may hold that up to the deadline, and it is then interrupted before it
// commits, with nothing to undo.
Acquisition::State Acquisition::start() {
  if (board_ && board_->waiters(queue_.name()) > 1) {
    join_entry_ = board_->join_requests().post(queue_.join_request(ttl_)).value_or(-1);
  }
  if (join_entry_ >= 0) return State::posted;
  return entered_queue(queue_.join_or_take(0, ttl_, deadline_, &stop_));
}

Acquisition::State Acquisition::while_posted() {
  posted_as_ = join_entry_;
  const Standing standing = wait_until_queued();
  posted_as_ = -1;
  board_->join_requests().release(join_entry_);
  join_entry_ = -1;
  return entered_queue(standing);
}

// Queued: the wait is idle time, and the grant's read, the heartbeat and the
// release after the grant all run statements not prepared yet.
Acquisition::State Acquisition::entered_queue(const Standing& standing) {
  standing_ = standing;
  ticket_ = standing.ticket;
  version_ = standing.version;
  if (standing.granted) return State::granted;
  queue_.prepare_release(true);
  queue_.connection().prepare({Statement::begin_read, Statement::refresh_heartbeat});
  next_beat_ = kit::deadline_in(shared_.settings.heartbeat);
  return State::queued;
}

std::int64_t Acquisition::on_granted() noexcept {
  if (standing_.next != 0) board_->wake(standing_.next);
  return ticket_;
}

// Where we stand is not read while posted: we are woken (by ticket,
// WakeBoard::wake()) when we are next or granted, and a read would be one
// more read transaction per contended grant. Until the first look we act as
// the head behind a holder: granted() is checked before any sleep, and a
// look follows the first wake-up or the head's probe period.
Standing Acquisition::wait_until_queued() {
  JoinRequests& requests = board_->join_requests();
  bool look_now = true;
  // Nobody took the request up by then (a holder that keeps the lock long,
  // or a writer that died): we queue ourselves.
  auto give_up_at = kit::deadline_in(std::chrono::milliseconds(head_liveness_probe));
  for (;;) {
    const std::uint32_t seen = requests.wake_sequence(join_entry_);
    const JoinProgress progress = requests.progress(join_entry_);
    if (progress.state == JoinState::done) {
      Standing placed;
      placed.ticket = progress.ticket;
      placed.holder = true;
      return placed;
    }
    auto now = Clock::now();
    throw_if_interrupted(now);
    if (progress.state == JoinState::claimed) {
      // A writer is queueing us; it settles within its transaction's time.
      if (progress.claimer_gone) return queue_ourselves();
      requests.sleep(join_entry_, seen, std::min<Clock::duration>(1ms, deadline_ - now));
      continue;
    }
    if (look_now) {
      // Is there a holder to release the lock (and queue us)?
      look_now = false;
      const Standing s = queue_.read_standing(behind_everyone, deadline_, &stop_);
      if (!s.holder && !s.ahead) return queue_ourselves();
      if (s.holder && s.holder_expires) {
        give_up_at = std::min(give_up_at, boottime_to_steady(*s.holder_expires, boottime_ns(), Clock::now()));
      }
    }
    now = Clock::now();
    if (now >= give_up_at) return queue_ourselves();
    requests.sleep(join_entry_, seen, std::min(give_up_at, deadline_) - now);
    if (requests.wake_sequence(join_entry_) != seen) look_now = true;
  }
}

Standing Acquisition::queue_ourselves() { return queue_.join_or_take(0, ttl_, deadline_, &stop_, join_entry_); }

Acquisition::State Acquisition::while_queued() {
  for (;;) {
    // When to look again even if nothing is written: the holder's lease or
    // the heartbeat of the waiter in front may run out, or a holder may die
    // without a word (the pid probe).
    auto now = Clock::now();
    const auto now_boot = boottime_ns();
    auto recheck = now + (standing_.ahead ? queue_liveness_probe : head_liveness_probe);
    if (standing_.holder && standing_.holder_expires) {
      recheck = std::min(recheck, boottime_to_steady(*standing_.holder_expires, now_boot, now));
    }
    if (standing_.ahead) recheck = std::min(recheck, boottime_to_steady(standing_.ahead_deadline, now_boot, now));
    sleeping_on_ = ticket_;
    sleep_until_worth_a_look(recheck, standing_.ahead ? queue_poll_ : head_poll_);
    // A wake-up may come long after it was sent (this process stopped): a
    // waiter past its deadline gives up, even when the lock was handed to
    // it meanwhile (abandon() passes it on).
    now = Clock::now();
    throw_if_interrupted(now);
    // Our releaser made the grant and said so: no read needed, which on a
    // lock that changes hands back to back is one read transaction fewer
    // per grant.
    if (board_ && board_->granted(ticket_)) return State::granted;
    look_again(now);
    if (standing_.granted) return State::granted;
  }
}

void Acquisition::sleep_until_worth_a_look(Clock::time_point recheck, Clock::duration poll) {
  for (;;) {
    const auto now = Clock::now();
    throw_if_interrupted(now);
    if (now >= next_beat_ || now >= recheck) return;
    const auto until = std::min({now + poll, recheck, next_beat_, deadline_});
    if (board_ ? sleep_on_wake_word(now, until) : poll_data_version(until)) return;
  }
}

// True when woken (or granted); the sequence is read before the check, so a
// wake sent after it ends the sleep. Woken by a collision in the board, the
// look that follows finds nothing changed.
bool Acquisition::sleep_on_wake_word(Clock::time_point now, Clock::time_point until) {
  const std::uint32_t seen = board_->wake_sequence(ticket_);
  if (board_->granted(ticket_)) return true;
  if (stop_.stop_requested()) return false;
  board_->sleep(ticket_, seen, until - now);
  return board_->wake_sequence(ticket_) != seen;
}

// True when another connection committed since the last look.
bool Acquisition::poll_data_version(Clock::time_point until) {
  Connection& conn = queue_.connection();
  const auto changed = conn.run([&] { return conn.data_version(); }, deadline_, &stop_);
  if (changed != version_) {
    version_ = changed;
    return true;
  }
  nap_until(until, stop_);
  return false;
}

void Acquisition::look_again(Clock::time_point now) {
  if (now >= next_beat_) {
    // The heartbeat is a full step: it also takes a grant that is due.
    standing_ = queue_.join_or_take(ticket_, ttl_, deadline_, &stop_);
    next_beat_ = kit::deadline_in(shared_.settings.heartbeat);
  } else {
    // Reads first: most changes (others' heartbeats, queue growth) do not
    // make us the next holder, and reads take no write lock.
    standing_ = queue_.read_standing_and_version(ticket_, deadline_, &stop_);
    if (!standing_.granted && !standing_.holder && !standing_.ahead) {
      standing_ = queue_.join_or_take(ticket_, ttl_, deadline_, &stop_);
    }
  }
  version_ = standing_.version;
  ticket_ = standing_.ticket;
}

void Acquisition::throw_if_interrupted(Clock::time_point now) const {
  if (now >= deadline_ || stop_.stop_requested()) throw Interrupted{};
}

void Acquisition::abandon() {
  if (join_entry_ >= 0) ticket_ = queue_.withdraw_request(join_entry_);
  if (ticket_ != 0) queue_.leave(ticket_);
}

void Acquisition::abandon_after_error() noexcept {
  if (join_entry_ >= 0) {
    try {
      ticket_ = queue_.withdraw_request(join_entry_);
    } catch (...) {
      // Freed all the same; a row written for it meanwhile is pruned by its
      // heartbeat deadline.
      board_->join_requests().release(join_entry_);
    }
  }
  if (ticket_ != 0) {
    try {
      queue_.leave(ticket_);
    } catch (...) {
      // The heartbeat deadline will prune the row.
    }
  }
}

}  // namespace baton::sqlite::detail
