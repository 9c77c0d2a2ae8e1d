// baton/sqlite.hpp: the embedded default backend, an SQLite database file.
//
// One file serves every process on one host; there is no server. SQLite's
// file locking is not reliable on network filesystems, so the file belongs on
// a local disk; across hosts, use PostgreSQL or Redis (docs/design.md §3).
//
// Blocking. An acquire of a lock that is held, or that others wait for,
// joins the lock's FIFO queue and blocks until it is granted, its deadline
// passes or its stop is requested; it then returns nothing and leaves nothing
// behind that could delay the waiters after it. A deadline already past (a
// zero timeout) makes one non-blocking attempt, which fails on contention
// (held, or anybody waiting) without queueing. Every call may also wait for
// SQLite's write lock, each held for the length of one short transaction:
// the calls of one process line up for it first come first served, and the
// wait lasts as long as write transactions keep ending; only a database
// where none ends for `busy_timeout` gives BackendUnavailable (an acquire
// whose deadline comes first returns nothing). A waiter
// sleeps in the kernel and is woken by whoever frees the lock, through a
// small shared-memory file next to the database (`<path>-wake`); without it
// (a read-only directory), it polls.
//
// Leases and liveness. Leases run on CLOCK_BOOTTIME, so a wall-clock step
// neither expires nor extends them, and leases written before the last
// reboot are void. A holder or waiter whose process died on this host is
// recognised at once by its pid; a waiter refreshes a heartbeat while it
// waits, so a waiter that stops (killed, or on another pid namespace) stops
// blocking the queue after three heartbeat intervals.
//
// Tokens. Every grant's fencing token is a ticket from one counter in the
// file that only grows: tokens strictly increase per name and are never
// reused, across expiries, clears, restarts and reboots.
//
// Thread-safety. A backend made here is used from any thread; each Lock it
// opens has its own connection, opened on first use. Backends made for the
// same file, in one process or many, share its locks.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "baton/backend.hpp"
#include "baton/registry.hpp"

namespace baton::sqlite {

// The backend's options. Aggregate; copyable and movable. Config keys in
// brackets (section "sqlite").
struct Options {
  // [path] The database file; created (with the process umask) if missing.
  // A relative path is relative to the current directory when the backend
  // is made (later chdir()s do not move it). Must not be empty.
  std::filesystem::path path = "baton.db";
  // [busy_timeout_ms] How long one call waits while no write transaction
  // ends (another process, or a program that is not baton, keeps the write
  // lock) before it fails with BackendUnavailable. Zero: 10 s.
  std::chrono::milliseconds busy_timeout{0};
  // [heartbeat_ms] How often a queued waiter refreshes its heartbeat; a
  // waiter silent for 3 intervals is pruned from the queue. Zero: 1 s.
  std::chrono::milliseconds heartbeat_interval{0};
  // [poll_ms] Longest sleep between two `PRAGMA data_version` polls of a
  // waiting Lock when the wake file (`<path>-wake`) cannot be created, e.g.
  // in a read-only directory. Zero: 2 ms.
  std::chrono::milliseconds poll_interval{0};
  // Test hook (not a config key): pretend this is the boot id instead of
  // /proc/sys/kernel/random/boot_id, to simulate a reboot.
  std::string boot_id;
};

// Opens (creating and setting up if needed) the database at options.path.
// Blocks for up to options.busy_timeout when another process holds the
// write lock. Throws ConfigError for an empty path, BackendUnavailable when
// the file cannot be opened now (permissions, a full disk, a lock held
// past the busy timeout), BackendError when it is corrupt, cannot use WAL
// mode, or has a schema version newer than this build knows. Thread-safe.
std::shared_ptr<Backend> make_backend(const Options& options);

// Options from a config section ({"path": ..., "busy_timeout_ms": ...}).
// Throws ConfigError naming the key that is unknown, of the wrong type or
// out of range. Thread-safe; touches no file.
Options options_from_config(const nlohmann::json& section);

// Registers "sqlite" in `registry`, with options_from_config() and
// make_backend() as its factory (baton::register_builtin_backends() does
// this for every built-in backend). Thread-safe as Registry::add.
void register_backend(Registry& registry);

}  // namespace baton::sqlite
