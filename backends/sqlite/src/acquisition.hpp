// acquisition.hpp: one blocking acquire, as explicit states.
//
//   posted     the waiter's row is a join request in the wake file, for the
//              next writer to insert (join_requests.hpp); it sleeps on the
//              request until queued, or gives up waiting and queues itself.
//   queued     the waiter's row is in baton_waiters. It sleeps on its wake
//              word (or polls `PRAGMA data_version` without the wake file),
//              refreshes its heartbeat once per interval, re-reads its
//              standing when woken or when a lease or heartbeat it waits
//              behind runs out, and only then takes the write lock.
//   granted    the lock is held; the token is the ticket.
//   abandoned  the deadline passed, a stop was requested, or an error was
//              thrown: the request is withdrawn and the row removed (a grant
//              that came meanwhile is passed on), so nobody waits behind a
//              waiter that gave up.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>

#include "lock_queue.hpp"
#include "settings.hpp"
#include "wake_board.hpp"

namespace baton::sqlite::detail {

// Lives for one acquire() call, on its thread (a stop request may run a
// wake-up from another). Not copyable, not movable.
class Acquisition {
 public:
  Acquisition(LockQueue& queue, const SharedState& shared, std::chrono::milliseconds ttl,
              Clock::time_point deadline, std::stop_token stop);
  Acquisition(const Acquisition&) = delete;
  Acquisition& operator=(const Acquisition&) = delete;

  // Waits for the grant: its token, or nullopt when the deadline passed or
  // a stop was requested first. Throws BackendUnavailable/BackendError
  // after removing what it had queued.
  std::optional<std::int64_t> run();

 private:
  enum class State { posted, queued, granted };

  // A stop request wakes the sleeping waiter (run from the requesting thread).
  struct WakeOnStop {
    Acquisition* self;
    void operator()() const noexcept;
  };

  State start();
  State while_posted();
  State while_queued();
  std::int64_t on_granted() noexcept;
  void abandon();
  void abandon_after_error() noexcept;

  // posted: until a writer queued the request, or it queues itself.
  Standing wait_until_queued();
  Standing queue_ourselves();
  // Joined the queue (or granted) with `standing`.
  State entered_queue(const Standing& standing);
  // queued: sleeps until there is something worth a look.
  void sleep_until_worth_a_look(Clock::time_point recheck, Clock::duration poll);
  bool sleep_on_wake_word(Clock::time_point now, Clock::time_point until);
  bool poll_data_version(Clock::time_point until);
  // queued: the look itself (a read, or the heartbeat's write step).
  void look_again(Clock::time_point now);
  void throw_if_interrupted(Clock::time_point now) const;

  LockQueue& queue_;
  const SharedState& shared_;
  WakeBoard* const board_;
  const std::chrono::milliseconds ttl_;
  const Clock::time_point deadline_;
  const std::stop_token stop_;
  // The head waiter only waits for the holder: it polls fast so the
  // hand-off is quick. Others wait for a change that takes a hand-off.
  const Clock::duration head_poll_;
  const Clock::duration queue_poll_;
  // Counted before the first write step: a release committed after it sees
  // the count and looks for us.
  CountedWaiter counted_;

  Standing standing_;
  std::int64_t ticket_ = 0;   // 0 until known
  int join_entry_ = -1;       // our posted join request, until queued
  std::int64_t version_ = 0;  // data_version of the last look
  Clock::time_point next_beat_{};
  // What a stop request wakes: read from the requesting thread.
  std::atomic<std::int64_t> sleeping_on_{0};
  std::atomic<int> posted_as_{-1};
  std::stop_callback<WakeOnStop> on_stop_;
};

}  // namespace baton::sqlite::detail
