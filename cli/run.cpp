// cli/run.cpp: `baton run NAME... [--timeout SEC | --no-wait] [--ttl SEC] -- CMD [ARG...]`
// (docs/design.md §7.1): every NAME is held (one LockSet, §1.13), or none.
//
// run() composes the steps, each in a file of its own:
//  - run_signals: the signal mask, the signalfd and the lost-lease pipe the
//    main thread polls;
//  - run_acquire: taking the locks, all or none; SIGINT/SIGTERM/SIGHUP
//    cancel the wait and baton exits 128+sig without running CMD;
//  - run_spawn: starting CMD with the original signal mask and default
//    dispositions for the signals baton handles;
//  - run_supervise: waiting for CMD, forwarding signals to it, and sending it
//    SIGTERM then SIGKILL when the lease is lost;
//  - run_events: the messages and exit statuses (cli/exit_codes.hpp) of each
//    ending.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <baton/config.hpp>
#include <baton/lock_manager.hpp>
#include <baton/lock_set.hpp>
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
  options.on_lost = [lost](std::string_view name, std::uint64_t token) { lost->notify(name, token); };
  LockSet locks = manager.lock_set(args.names, options);

  const Acquired acquired = acquire_for_run(locks, args, signals);
  // The member the attempt stopped at; the first name when it stopped at none.
  const std::string stopped_at = locks.blocked_on().value_or(locks.names().front());
  if (acquired.interrupted_by != 0) return report_interrupted(stopped_at, acquired.interrupted_by);
  if (!acquired.got) return report_not_acquired(args, stopped_at);

  const auto tokens = locks.tokens();
  if (const auto first = lost->first_lost()) return report_lost_before_start(locks, first->first);

  const Spawned spawned = spawn_command(args.command, tokens, signals);
  if (spawned.error != 0) return report_cannot_exec(locks, args.command[0], spawned.error);

  const CommandEnd end = supervise_command(spawned.pid, signals, *lost);
  return release_after_command(locks, tokens, end.lease_lost, command_exit_status(end.wait_status));
}

}  // namespace baton::cli
