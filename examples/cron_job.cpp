// examples/cron_job.cpp: a periodic job that must never overlap with itself.
// If the previous run still holds the lock, this run skips (exit 0) instead
// of queueing up behind it: try_acquire() never waits and never jumps the
// queue.
//
//   cron_job [CONFIG]
//
// The same without writing code: `baton run --no-wait nightly -- ./report.sh`
// (exit 75 when busy).
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>

#include <baton/baton.hpp>

int main(int argc, char** argv) try {
  baton::register_builtin_backends();
  baton::LockManager manager = argc > 1 ? baton::LockManager::from_file(argv[1])
                                        : baton::LockManager::from_config(baton::find_config(std::nullopt));
  baton::Lock lock = manager.lock("examples/nightly-report");

  if (!lock.try_acquire()) {
    baton::LockInfo info = manager.inspect("examples/nightly-report");
    std::cout << "previous run (pid " << info.pid << " on " << info.host << ") still running; skipping\n";
    return 0;
  }
  std::cout << "running the nightly report, fencing token " << lock.token() << std::endl;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the report
  lock.release();
  std::cout << "done\n";
  return 0;
} catch (const baton::Error& e) {
  std::cerr << "cron_job: " << e.what() << '\n';
  return 1;
}
