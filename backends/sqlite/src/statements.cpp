#include "statements.hpp"

#include <initializer_list>
#include <iterator>

namespace baton::sqlite::detail {
namespace {

// The row of baton_holders that holds the ticket counter (docs/design.md
// §3.2), as an SQL literal: the reserved name "__baton.ticket" as a BLOB. No
// lock can have that name.
#define BATON_TICKET_COUNTER "X'5F5F6261746F6E2E7469636B6574'"

// Liveness of a stored holder or waiter, in SQL. A row is alive unless
// another boot wrote it (its clock values mean nothing now) or it names a
// process of our boot and pid namespace that certainly is gone
// (docs/design.md §3.4). Leases and heartbeats are compared next to it.
#define BATON_ALIVE(t) "baton_alive(" t "boot_id, " t "proc_pid, " t "proc_start, " t "pid_ns)"

// baton_waiters' columns.
#define BATON_WAITERS_COLUMNS                                                                                  \
  "name BLOB NOT NULL, ticket INTEGER NOT NULL, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL," \
  "  proc_pid INTEGER NOT NULL, proc_start INTEGER, pid_ns TEXT NOT NULL, boot_id TEXT NOT NULL,"             \
  "  heartbeat_deadline INTEGER NOT NULL, ttl_ms INTEGER, PRIMARY KEY(name, ticket)"

// The ticket counter's row, above every ticket or token the file still
// shows plus :gap; written only where it is missing. The _FROM_V1 variant
// also counts version 1's sqlite_sequence counter.
#define BATON_SEED_COUNTER(V1_SEQUENCE)                                                                      \
  "INSERT INTO baton_holders(name, token, owner, host, pid, proc_pid, proc_start, pid_ns, boot_id, "          \
  "acquired_at, expires_at) SELECT " BATON_TICKET_COUNTER ", max(" V1_SEQUENCE                                \
  "coalesce((SELECT max(ticket) FROM baton_waiters), 0), "                                                    \
  "coalesce((SELECT max(token) FROM baton_holders), 0)) + :gap, '', '', 0, 0, NULL, '', '', 0, NULL "         \
  "WHERE NOT EXISTS (SELECT 1 FROM baton_holders WHERE name = " BATON_TICKET_COUNTER ")"

const char* transaction_text(Statement s) noexcept {
  switch (s) {
    case Statement::begin_immediate: return "BEGIN IMMEDIATE";
    case Statement::begin_read: return "BEGIN";
    case Statement::commit: return "COMMIT";
    case Statement::data_version: return "PRAGMA data_version";
    default: return nullptr;
  }
}

const char* schema_text(Statement s) noexcept {
  switch (s) {
    // Persistent in the file; ignored for an existing one. Rows are tiny,
    // and each commit writes (and checksums) whole pages to the WAL.
    case Statement::set_page_size: return "PRAGMA page_size = 1024";
    case Statement::set_journal_mode_wal: return "PRAGMA journal_mode = WAL";
    case Statement::count_baton_tables:
      return "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
             "('baton_meta', 'baton_waiters', 'baton_holders')";
    case Statement::table_exists: return "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :table";
    case Statement::waiters_keyed_by_name:
      return "SELECT 1 FROM pragma_table_info('baton_waiters') WHERE name = 'name' AND pk = 1";
    case Statement::waiters_have_ttl_column:
      return "SELECT 1 FROM pragma_table_info('baton_waiters') WHERE name = 'ttl_ms'";
    case Statement::read_meta: return "SELECT value FROM baton_meta WHERE key = :key";
    case Statement::write_meta: return "INSERT OR REPLACE INTO baton_meta(key, value) VALUES(:key, :value)";
    case Statement::seed_ticket_counter: return BATON_SEED_COUNTER("");
    case Statement::seed_ticket_counter_from_v1:
      return BATON_SEED_COUNTER("coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'baton_waiters'), 0), ");
    case Statement::advance_ticket_counter_by:
      return "UPDATE baton_holders SET token = token + :gap WHERE name = " BATON_TICKET_COUNTER;
    case Statement::delete_holders_of_other_boots:
      return "DELETE FROM baton_holders WHERE boot_id <> :boot_id AND name <> " BATON_TICKET_COUNTER;
    case Statement::delete_waiters_of_other_boots: return "DELETE FROM baton_waiters WHERE boot_id <> :boot_id";
    default: return nullptr;
  }
}

const char* queue_text(Statement s) noexcept {
  switch (s) {
    case Statement::next_ticket: return "UPDATE baton_holders SET token = token + 1 WHERE name = " BATON_TICKET_COUNTER;
    case Statement::read_ticket: return "SELECT token FROM baton_holders WHERE name = " BATON_TICKET_COUNTER;
    // The row (live or not), whether it is live, and whose it is (a grant
    // a releaser handed to a waiter).
    case Statement::read_holder:
      return "SELECT expires_at, ifnull(expires_at > :now, 1) AND " BATON_ALIVE("") ", token, owner "
             "FROM baton_holders WHERE name = :name";
    case Statement::purge_dead_holder:
      return "DELETE FROM baton_holders WHERE name = :name AND NOT ((expires_at IS NULL OR expires_at > :now) AND "
             BATON_ALIVE("") ")";
    // The first waiter ahead of :ticket (live or not) and whether it is live.
    case Statement::read_first_waiter_ahead:
      return "SELECT ticket, heartbeat_deadline, heartbeat_deadline > :now AND " BATON_ALIVE("") " "
             "FROM baton_waiters WHERE name = :name AND ticket < :ticket ORDER BY ticket LIMIT 1";
    case Statement::read_first_live_waiter_ahead:
      return "SELECT ticket, heartbeat_deadline FROM baton_waiters WHERE name = :name AND ticket < :ticket "
             "AND heartbeat_deadline > :now AND " BATON_ALIVE("") " ORDER BY ticket LIMIT 1";
    // The dead waiters ahead of :ticket up to the first live one (those
    // behind it are someone else's business and would only make this
    // write transaction longer).
    case Statement::purge_dead_waiters_ahead:
      return "DELETE FROM baton_waiters WHERE name = :name AND ticket < coalesce((SELECT ticket FROM baton_waiters "
             "WHERE name = :name AND ticket < :ticket AND heartbeat_deadline > :now AND " BATON_ALIVE("") " "
             "ORDER BY ticket LIMIT 1), :ticket)";
    case Statement::insert_waiter:
      return "INSERT INTO baton_waiters(name, owner, host, pid, proc_pid, proc_start, pid_ns, boot_id, "
             "heartbeat_deadline, ticket, ttl_ms) VALUES(:name, :owner, :host, :pid, :proc_pid, :proc_start, "
             ":pid_ns, :boot_id, :heartbeat_deadline, :ticket, :ttl_ms)";
    case Statement::refresh_heartbeat:
      return "UPDATE baton_waiters SET heartbeat_deadline = :heartbeat_deadline WHERE name = :name AND ticket = :ticket";
    case Statement::delete_waiter: return "DELETE FROM baton_waiters WHERE name = :name AND ticket = :ticket";
    // The row a writer queued for a posted join request of :owner, or the
    // live grant a release made of it. An owner waits for one name at a time.
    case Statement::find_own_ticket:
      return "SELECT ticket FROM baton_waiters WHERE name = :name AND owner = :owner UNION ALL "
             "SELECT token FROM baton_holders WHERE name = :name AND owner = :owner "
             "AND ifnull(expires_at > :now, 1) LIMIT 1";
    default: return nullptr;
  }
}

const char* grant_text(Statement s) noexcept {
  switch (s) {
    // Replaces a dead row (the caller has seen it is dead).
    case Statement::insert_holder:
      return "INSERT OR REPLACE INTO baton_holders(name, token, owner, host, pid, proc_pid, proc_start, pid_ns, "
             "boot_id, acquired_at, expires_at) VALUES(:name, :token, :owner, :host, :pid, :proc_pid, :proc_start, "
             ":pid_ns, :boot_id, :acquired_at, :expires_at)";
    // The waiter's row becomes the holder row, its ticket the token, its
    // own ttl the lease (negative: forever). A row without ttl_ms (written
    // by hand or by an older version, which would not recognise a grant
    // made for it) is left alone.
    case Statement::hand_to_waiter:
      return "INSERT OR REPLACE INTO baton_holders(name, token, owner, host, pid, proc_pid, proc_start, pid_ns, "
             "boot_id, acquired_at, expires_at) SELECT name, ticket, owner, host, pid, proc_pid, proc_start, pid_ns, "
             "boot_id, :acquired_at, CASE WHEN ttl_ms < 0 THEN NULL ELSE :now + ttl_ms * 1000000 END "
             "FROM baton_waiters WHERE name = :name AND ticket = :ticket AND ttl_ms IS NOT NULL";
    case Statement::renew:
      return "UPDATE baton_holders SET expires_at = :expires_at WHERE name = :name AND token = :token "
             "AND owner = :owner AND boot_id = :boot_id AND (expires_at IS NULL OR expires_at > :now)";
    // Deletes our grant only while it is live (changes() tells). No
    // RETURNING here or on any hot path: it buffers rows in an ephemeral
    // table whose set-up and tear-down cost more than the statement.
    case Statement::release:
      return "DELETE FROM baton_holders WHERE name = :name AND token = :token AND owner = :owner "
             "AND boot_id = :boot_id AND ifnull(expires_at > :now, 1)";
    // Our grant, live or not, as cleanup.
    case Statement::drop_own_holder:
      return "DELETE FROM baton_holders WHERE name = :name AND token = :token AND owner = :owner";
    default: return nullptr;
  }
}

const char* admin_text(Statement s) noexcept {
  switch (s) {
    case Statement::inspect_holder:
      return "SELECT token, owner, host, pid, acquired_at, expires_at FROM baton_holders WHERE name = :name "
             "AND (expires_at IS NULL OR expires_at > :now) AND " BATON_ALIVE("");
    case Statement::count_live_waiters:
      return "SELECT count(*) FROM baton_waiters WHERE name = :name AND heartbeat_deadline > :now AND "
             BATON_ALIVE("");
    case Statement::list_holders:
      return "SELECT h.name, h.token, h.owner, h.host, h.pid, h.acquired_at, h.expires_at, "
             "(SELECT count(*) FROM baton_waiters w WHERE w.name = h.name AND w.heartbeat_deadline > :now AND "
             BATON_ALIVE("w.") ") FROM baton_holders h WHERE h.name <> " BATON_TICKET_COUNTER " AND "
             "(h.expires_at IS NULL OR h.expires_at > :now) AND " BATON_ALIVE("h.");
    // Returns whether the row was a live grant. ifnull(), not "expires_at
    // IS NULL": SQLite 3.40 evaluates the latter to 0 in the RETURNING
    // clause of a DELETE on a WITHOUT ROWID table. The ticket counter's row
    // is never cleared, even by its reserved name.
    case Statement::clear:
      return "DELETE FROM baton_holders WHERE name = :name AND name <> " BATON_TICKET_COUNTER
             " RETURNING ifnull(expires_at > :now, 1) AND " BATON_ALIVE("");
    default: return nullptr;
  }
}

}  // namespace

const char* statement_text(Statement statement) noexcept {
  for (auto* part : {transaction_text, schema_text, queue_text, grant_text, admin_text}) {
    if (const char* text = part(statement)) return text;
  }
  return "";
}

const char* param_name(Param param) noexcept {
  static constexpr const char* names[] = {
      ":name",   ":ticket", ":token",      ":now",     ":owner",
      ":host",   ":pid",    ":proc_pid",   ":proc_start", ":pid_ns",
      ":boot_id", ":heartbeat_deadline", ":ttl_ms", ":acquired_at", ":expires_at",
      ":key",    ":value",  ":table",      ":gap",
  };
  static_assert(std::size(names) == param_count);
  return names[static_cast<std::size_t>(param)];
}

namespace script {

// synchronous=NORMAL: in WAL mode a commit costs no fsync; a power failure
// may lose the last commits, which the reboot check answers by moving the
// ticket counter far ahead (docs/design.md §3.6).
const char* const connection_pragmas = "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF";

const char* const create_tables =
    "CREATE TABLE IF NOT EXISTS baton_meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS baton_waiters(" BATON_WAITERS_COLUMNS ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS baton_holders("
    "  name BLOB PRIMARY KEY, token INTEGER NOT NULL, owner TEXT NOT NULL, host TEXT NOT NULL,"
    "  pid INTEGER NOT NULL, proc_pid INTEGER NOT NULL, proc_start INTEGER, pid_ns TEXT NOT NULL,"
    "  boot_id TEXT NOT NULL, acquired_at INTEGER NOT NULL, expires_at INTEGER) WITHOUT ROWID;";

const char* const add_ttl_column = "ALTER TABLE baton_waiters ADD COLUMN ttl_ms INTEGER";

// Dropping the old table drops its index and its sqlite_sequence row.
const char* const rebuild_waiters_keyed_by_name =
    "ALTER TABLE baton_waiters RENAME TO baton_waiters_v2;"
    "CREATE TABLE baton_waiters(" BATON_WAITERS_COLUMNS ") WITHOUT ROWID;"
    "INSERT INTO baton_waiters(name, ticket, owner, host, pid, proc_pid, proc_start, pid_ns, boot_id, "
    "heartbeat_deadline, ttl_ms) SELECT name, ticket, owner, host, pid, proc_pid, proc_start, pid_ns, boot_id, "
    "heartbeat_deadline, ttl_ms FROM baton_waiters_v2;"
    "DROP TABLE baton_waiters_v2;";

}  // namespace script

#undef BATON_TICKET_COUNTER
#undef BATON_ALIVE
#undef BATON_WAITERS_COLUMNS
#undef BATON_SEED_COUNTER

}  // namespace baton::sqlite::detail
