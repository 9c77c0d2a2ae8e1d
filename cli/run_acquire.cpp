// cli/run_acquire.cpp: the acquire of `baton run` (see run_acquire.hpp).
//
// The acquire runs on a thread of its own, which writes an eventfd when it
// returns; the main thread polls that eventfd and the signalfd, and turns
// the first stop signal into a stop request. The thread is joined before
// anything it wrote is read.
#include "run_acquire.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <stop_token>
#include <thread>

namespace baton::cli {

namespace {

// --timeout as a deadline; max() (no deadline) without one, or for one so
// long it would overflow the clock.
Clock::time_point wait_deadline(const RunArgs& args) {
  if (!args.timeout || *args.timeout >= 1e9) return Clock::time_point::max();
  return Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(*args.timeout * 1000.0)));
}

// Sleeps until `done_fd` is readable or a stop signal arrives. Returns that
// signal's number, or 0 when `done_fd` fired first. Other signals (SIGCHLD)
// are read and ignored.
int wait_for_done_or_stop_signal(const Signals& signals, int done_fd) {
  for (;;) {
    pollfd fds[2] = {{signals.fd.get(), POLLIN, 0}, {done_fd, POLLIN, 0}};
    poll_retry(fds, 2, -1);
    if (fds[0].revents != 0) {
      for (const auto& arrival : signals.read_all()) {
        if (is_stop_signal(arrival.signo)) return arrival.signo;
      }
    }
    if (fds[1].revents != 0) return 0;
  }
}

// acquire_until(deadline) of the set on a thread, cancelled by the first stop signal.
Acquired acquire_interruptibly(LockSet& locks, Clock::time_point deadline, const Signals& signals) {
  Fd done(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (done.get() < 0) throw_errno("eventfd");
  std::exception_ptr error;
  bool got = false;
  int interrupted_by = 0;
  {
    std::jthread waiter([&](std::stop_token stop) {
      try {
        got = locks.acquire_until(deadline, stop);
      } catch (...) {
        error = std::current_exception();
      }
      std::uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(done.get(), &one, sizeof one);
    });
    interrupted_by = wait_for_done_or_stop_signal(signals, done.get());
    if (interrupted_by != 0) waiter.request_stop();
  }  // joins the waiter: `got` and `error` are final from here on
  if (interrupted_by != 0) {
    if (got) {
      try {
        locks.release();
      } catch (...) {
      }
    }
    return Acquired{false, interrupted_by};
  }
  if (error) std::rethrow_exception(error);
  return Acquired{got, 0};
}

}  // namespace

Acquired acquire_for_run(LockSet& locks, const RunArgs& args, const Signals& signals) {
  if (args.no_wait) return Acquired{locks.try_acquire(), 0};
  return acquire_interruptibly(locks, wait_deadline(args), signals);
}

}  // namespace baton::cli
