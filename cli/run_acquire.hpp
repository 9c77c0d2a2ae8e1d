// cli/run_acquire.hpp: taking the lock for `baton run`, interruptible by the
// stop signals.
#pragma once

#include <baton/lock_set.hpp>

#include "cli.hpp"
#include "run_signals.hpp"

namespace baton::cli {

// The outcome of waiting for the lock.
struct Acquired {
  bool got = false;
  int interrupted_by = 0;  // the stop signal that cancelled the wait, or 0
};

// Takes every lock of `locks` as `args` ask: once (--no-wait), until
// --timeout, or for ever; all or none. SIGINT, SIGTERM or SIGHUP arriving
// meanwhile cancel the wait at once (through the acquire's stop token); a
// grant that races with the signal is released again, so an interrupted run
// never holds a lock. Backend errors are rethrown on the calling thread.
Acquired acquire_for_run(LockSet& locks, const RunArgs& args, const Signals& signals);

}  // namespace baton::cli
