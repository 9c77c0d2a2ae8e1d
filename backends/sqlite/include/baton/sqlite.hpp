// baton/sqlite.hpp: the embedded default backend, an SQLite database file.
//
// One file serves every process on one host (SQLite's locking is not safe on
// network filesystems: use PostgreSQL or Redis across hosts). Leases run on
// the host's monotonic clock (CLOCK_BOOTTIME), so a wall-clock step neither
// expires nor extends them, and leases written before the last reboot are
// void. Waiters are rows ordered by an AUTOINCREMENT ticket, which is also the
// fencing token; they refresh a heartbeat while they wait, so a killed waiter
// stops blocking the queue.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "baton/backend.hpp"
#include "baton/registry.hpp"

namespace baton::sqlite {

// Aggregate; copyable. Config keys in brackets (section "sqlite").
struct Options {
  // [path] The database file; created (with the process umask) if missing.
  // A relative path is relative to the current directory.
  std::filesystem::path path = "baton.db";
  // [busy_timeout_ms] How long one statement waits for another writer before
  // the call fails with BackendUnavailable. Zero: 10 s.
  std::chrono::milliseconds busy_timeout{0};
  // [heartbeat_ms] How often a queued waiter refreshes its heartbeat; a
  // waiter silent for 3 intervals is pruned from the queue. Zero: 1 s.
  std::chrono::milliseconds heartbeat_interval{0};
  // [poll_ms] Longest sleep between two `PRAGMA data_version` polls of a
  // waiting Lock when the wake file (`<path>-wake`, shared memory through
  // which a release wakes the next waiter) cannot be created, e.g. in a
  // read-only directory. Zero: 2 ms.
  std::chrono::milliseconds poll_interval{0};
  // Test hook (not a config key): pretend this is the boot id instead of
  // /proc/sys/kernel/random/boot_id, to simulate a reboot.
  std::string boot_id;
};

// Opens (creating if needed) the database at options.path. Throws
// BackendUnavailable / BackendError when it cannot be opened or is corrupt.
std::shared_ptr<Backend> make_backend(const Options& options);

// Options from a config section ({"path": ..., "busy_timeout_ms": ...}).
// Throws ConfigError naming the key.
Options options_from_config(const nlohmann::json& section);

// Registers "sqlite" in `registry` (baton::register_builtin_backends() does
// this for every built-in backend).
void register_backend(Registry& registry);

}  // namespace baton::sqlite
