// flock_backend.hpp: a baton backend kept in a directory on a local disk:
// per lock name a directory of entry files, one per waiter or holder, each
// created atomically and written only by its owner, so no call ever waits
// for another process (see README.md for the design).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>

#include <baton/backend.hpp>

namespace baton_flock {

struct Options {
  // The directory of lock directories; created (one level) if missing.
  // Every process sharing locks must use the same directory on a local disk.
  std::filesystem::path dir;
  // How often a queued waiter looks at its place. Zero: 10 ms.
  std::chrono::milliseconds poll_interval{0};
  // fdatasync() the holder's entry and fsync() the name's directory at each
  // grant, so no fencing token is granted twice even across a power loss
  // (tokens always survive process crashes). Costs two disk flushes.
  bool sync_grants = false;
};

// Throws BackendUnavailable (naming the directory) when it cannot be made
// or is not a directory.
std::shared_ptr<baton::Backend> make_backend(const Options& options);

}  // namespace baton_flock
