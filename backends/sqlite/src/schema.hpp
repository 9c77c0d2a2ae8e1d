// schema.hpp: the database file's set-up: WAL mode, the tables of
// docs/design.md §3.1, migrations from older schema versions, and what the
// first open after a reboot does (§3.6).
#pragma once

#include "connection.hpp"
#include "wake_board.hpp"

namespace baton::sqlite::detail {

// Makes the file at `conn` ready for use: WAL mode, the current schema
// (older versions migrated, keeping queued waiters, their order and their
// tokens), the ticket counter, and the reboot handling of §3.6, which also
// resets `board` (may be null). A file already set up in this boot costs
// reads only. Throws BackendError for a file that cannot use WAL or has a
// newer schema version.
void set_up_database(Connection& conn, WakeBoard* board);

}  // namespace baton::sqlite::detail
