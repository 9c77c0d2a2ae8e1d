// state_file.hpp: one lock name's file, opened and locked for one short
// critical section.
//
// The file lock is an OFD lock (fcntl F_OFD_SETLK) on the whole file, taken
// without blocking and retried with a short backoff until a bound the caller
// gives: a process stopped (SIGSTOP) inside its critical section keeps the
// lock until it is continued or killed, so no caller may wait on it without a
// bound. OFD locks belong to the open file description, so two threads of one
// process exclude each other too, and the lock is freed when the descriptor
// is closed, including by the death of its process.
#pragma once

#include <filesystem>
#include <optional>
#include <stop_token>
#include <string_view>

#include <baton/options.hpp>

#include "lock_state.hpp"

namespace baton_flock {

// The file of `name` in `dir`: "<32 hex digits of a 128-bit FNV-1a hash>.lock",
// so any name of 1 to 1024 bytes fits NAME_MAX. The full name is kept inside
// the file and compared on every read: a collision is an error, never a
// shared lock.
std::filesystem::path file_for(const std::filesystem::path& dir, std::string_view name);

class LockedFile {
 public:
  // Opens `path` (creating it if `create`) and takes its lock, retrying until
  // `until` or a stop request. nullopt: the lock stayed busy (or `create` is
  // false and the file does not exist: see exists()). Throws
  // BackendUnavailable (naming the path) when the file cannot be opened.
  static std::optional<LockedFile> open(const std::filesystem::path& path, bool create,
                                        baton::Clock::time_point until, std::stop_token stop = {});
  // Tells a missing file from a busy one after open() returned nullopt.
  static bool exists(const std::filesystem::path& path);

  LockedFile(LockedFile&& other) noexcept;
  LockedFile& operator=(LockedFile&&) = delete;
  ~LockedFile();  // closes the descriptor: the lock goes with it

  // The state in the file, checked to belong to `name` (BackendError
  // otherwise, or on malformed content). An empty `name` accepts any (list()
  // reads files whose names it does not know yet).
  LockState load(std::string_view name);
  // Overwrites the file with `state`: one write, then a truncate. A process
  // killed between the two leaves a stale tail after "end", which parse()
  // ignores. `durable`: fdatasync() before returning, so the write survives
  // a power loss, not only a process crash.
  void store(const LockState& state, bool durable = false);

 private:
  LockedFile(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::filesystem::path path_;
};

}  // namespace baton_flock
