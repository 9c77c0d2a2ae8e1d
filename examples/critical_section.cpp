// examples/critical_section.cpp: a critical section across processes, with
// std::unique_lock<baton::Lock>.
//
//   critical_section [CONFIG]     # default: the CLI's lookup (./baton.json, else ./baton.db)
//
// Start several at once and they take turns, in arrival order:
//   for i in 1 2 3; do ./critical_section & done; wait
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include <baton/baton.hpp>

int main(int argc, char** argv) try {
  baton::register_builtin_backends();
  baton::LockManager manager = argc > 1 ? baton::LockManager::from_file(argv[1])
                                        : baton::LockManager::from_config(baton::find_config(std::nullopt));
  baton::Lock lock = manager.lock("examples/critical-section");

  {
    // lock() blocks until this process is at the head of the queue; the
    // destructor of the guard releases, also when an exception leaves the
    // block. The lease is renewed in the background meanwhile.
    std::unique_lock<baton::Lock> guard(lock);
    std::cout << "pid " << ::getpid() << " entered with fencing token " << lock.token() << std::endl;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the work
    std::cout << "pid " << ::getpid() << " leaving" << std::endl;
  }

  // Timed: give up after 2 s instead of waiting forever.
  std::unique_lock<baton::Lock> timed(lock, std::chrono::seconds(2));
  std::cout << (timed.owns_lock() ? "got it again" : "busy for 2 s, gave up") << std::endl;
  return 0;
} catch (const baton::Error& e) {
  std::cerr << "critical_section: " << e.what() << '\n';
  return 1;
}
