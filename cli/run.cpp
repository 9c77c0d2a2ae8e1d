// cli/run.cpp: `baton run NAME [--timeout SEC | --no-wait] [--ttl SEC] -- CMD [ARG...]`
// (docs/design.md §7.1).
//
// run() composes the steps, each in a file of its own:
//  - run_signals: the signal mask, the signalfd and the lost-lease pipe the
//    main thread polls;
//  - run_acquire: taking the lock; SIGINT/SIGTERM/SIGHUP cancel the wait and
//    baton exits 128+sig without running CMD;
//  - run_spawn: starting CMD with the original signal mask and default
//    dispositions for the signals baton handles;
//  - run_supervise: waiting for CMD, forwarding signals to it, and sending it
//    SIGTERM then SIGKILL when the lease is lost;
//  - run_events: the messages and exit statuses (cli/exit_codes.hpp) of each
//    ending.
#include <cstdint>
#include <memory>
#include <string_view>

#include <baton/config.hpp>
#include <baton/lock.hpp>
#include <baton/lock_manager.hpp>
#include <baton/options.hpp>

#include "cli.hpp"
#include "run_acquire.hpp"
#include "run_events.hpp"
#include "run_signals.hpp"
#include "run_spawn.hpp"
#include "run_supervise.hpp"

namespace baton::cli {

int run(const RunArgs& args) {
  // Before any thread exists: every thread the manager starts inherits the mask.
  Signals signals;

  Config config = find_config(args.config);
  LockManager manager = open_manager(config);

  auto lost = std::make_shared<LostChannel>();
  LockOptions options;
  options.ttl = args.ttl;
  options.on_lost = [lost](std::string_view, std::uint64_t) { lost->notify(); };
  Lock lock = manager.lock(args.name, options);

  const Acquired acquired = acquire_for_run(lock, args, signals);
  if (acquired.interrupted_by != 0) return report_interrupted(args.name, acquired.interrupted_by);
  if (!acquired.got) return report_not_acquired(args);

  const std::uint64_t token = lock.token();
  if (lost->lost.load()) return report_lost_before_start(lock, args.name);

  const Spawned spawned = spawn_command(args.command, args.name, token, signals);
  if (spawned.error != 0) return report_cannot_exec(lock, args.command[0], spawned.error);

  const CommandEnd end = supervise_command(spawned.pid, signals, *lost, args.name, token);
  return release_after_command(lock, args.name, token, end.lease_lost, command_exit_status(end.wait_status));
}

}  // namespace baton::cli
