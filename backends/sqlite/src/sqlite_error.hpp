// sqlite_error.hpp: what can go wrong in a call to SQLite, and the one place
// where SQLite's result codes become baton's exceptions (docs/design.md
// §2.2).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace baton::sqlite::detail {

// Thrown (internally only) when SQLite reports BUSY or LOCKED:
// Connection::run() retries, or raises BackendUnavailable once the busy
// timeout passed.
struct Busy {
  int rc;
  std::string message;
};

// Thrown (internally only) by Connection::run() when the caller's deadline
// passed or its stop was requested while the database was busy, and by the
// wait of an acquisition for the same reasons.
struct Interrupted {};

// Whether `rc` (extended or primary) is BUSY or LOCKED.
bool is_busy(int rc) noexcept;

// The one translation from SQLite result codes to baton exceptions: BUSY,
// LOCKED, CANTOPEN, IOERR, READONLY, FULL, PERM, NOLFS, PROTOCOL raise
// BackendUnavailable (another process or the environment is in the way and
// may get out of it); everything else, CORRUPT and NOTADB among them, raises
// BackendError. The message names the file, what was being done, and
// SQLite's own words.
[[noreturn]] void raise_sqlite_error(int rc, std::string_view sqlite_message, const std::filesystem::path& path,
                                     std::string_view doing);

}  // namespace baton::sqlite::detail
