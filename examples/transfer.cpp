// examples/transfer.cpp: several locks at once, all or nothing, with
// baton::LockSet and std::scoped_lock.
//
//   transfer [CONFIG]     # default: the CLI's lookup (./baton.json, else ./baton.db)
//
// A transfer between two accounts holds both accounts' locks. Start several
// with the accounts in opposite orders and they never deadlock: the set
// takes its names in one canonical order, whatever order they are given in.
//   ./transfer & ./transfer & wait
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
  baton::LockOptions options;
  options.on_lost = [](std::string_view name, std::uint64_t token) {
    std::cerr << "lost the lease of " << name << " (token " << token << ")\n";
  };
  // Opposite orders, as two transfers in opposite directions would give them.
  baton::LockSet alice_to_bob = manager.lock_set({"examples/account/alice", "examples/account/bob"}, options);
  baton::LockSet bob_to_alice = manager.lock_set({"examples/account/bob", "examples/account/alice"}, options);

  for (baton::LockSet* set : {&alice_to_bob, &bob_to_alice}) {
    // Blocks until this process holds every account of the set; the guard
    // releases them all, also when an exception leaves the block.
    std::scoped_lock guard(*set);
    std::cout << "pid " << ::getpid() << " holds";
    for (const auto& [name, token] : set->tokens()) std::cout << ' ' << name << " (token " << token << ')';
    std::cout << std::endl;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the transfer
  }

  // Timed and all or nothing: after a failed attempt, status() says who
  // holds each name the set could not take.
  baton::Lock other = manager.lock("examples/account/bob");
  other.acquire();
  if (!alice_to_bob.acquire_for(std::chrono::milliseconds(200))) {
    for (const auto& member : alice_to_bob.status()) {
      std::cout << member.name << (member.blocked ? " (stopped here)" : "") << ": "
                << (member.info.held ? "held by pid " + std::to_string(member.info.pid) : std::string("free"))
                << std::endl;
    }
  }
  other.release();
  return 0;
} catch (const baton::Error& e) {
  std::cerr << "transfer: " << e.what() << '\n';
  return 1;
}
