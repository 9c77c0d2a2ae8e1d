// flock_backend.hpp: a baton backend kept in a directory of lock files on a
// local disk, one file per lock name, each read and rewritten under a short
// OFD file lock (see README.md for the design).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>

#include <baton/backend.hpp>

namespace baton_flock {

struct Options {
  // The directory of lock files; created (one level) if missing. Every
  // process sharing locks must use the same directory on a local disk.
  std::filesystem::path dir;
  // How often a queued waiter looks at its place. Zero: 10 ms.
  std::chrono::milliseconds poll_interval{0};
  // How long renew(), release(), inspect(), list() and clear() wait for a
  // file lock held by another process (stopped, say) before they throw
  // BackendUnavailable. Zero: 5 s.
  std::chrono::milliseconds lock_timeout{0};
  // fdatasync() a name's file after each grant, so no fencing token is
  // granted twice even across a power loss (tokens always survive process
  // crashes). Costs a disk flush inside the grant's critical section.
  bool sync_grants = false;
};

// Throws BackendUnavailable (naming the directory) when it cannot be made
// or is not a directory.
std::shared_ptr<baton::Backend> make_backend(const Options& options);

}  // namespace baton_flock
