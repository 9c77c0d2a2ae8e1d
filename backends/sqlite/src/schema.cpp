#include "schema.hpp"

#include <optional>
#include <string>

#include "baton/error.hpp"
#include "statements.hpp"
#include "ticket_counter.hpp"

namespace baton::sqlite::detail {
namespace {

std::optional<std::string> read_meta(Connection& conn, const char* key) {
  Query query(conn, Statement::read_meta);
  query.bind_text(Param::key, key);
  if (!query.step()) return std::nullopt;
  return query.text(0);
}

void write_meta(Connection& conn, const char* key, const std::string& value) {
  Query(conn, Statement::write_meta).bind_text(Param::key, key).bind_text(Param::value, value).run();
}

bool waiters_keyed_by_name(Connection& conn) { return Query(conn, Statement::waiters_keyed_by_name).step(); }

bool waiters_have_ttl_column(Connection& conn) { return Query(conn, Statement::waiters_have_ttl_column).step(); }

// Small pages (persistent, and ignored for an existing file) and WAL mode.
// Needs no transaction.
void set_journal_mode(Connection& conn) {
  conn.run([&] {
    Query(conn, Statement::set_page_size).run();
    Query mode(conn, Statement::set_journal_mode_wal);
    if (!mode.step() || mode.text(0) != "wal") {
      throw BackendError("sqlite: " + conn.path().string() + " cannot be switched to WAL mode (journal_mode is '" +
                         mode.text(0) + "'; is it on a network filesystem?)");
    }
  });
}

// Whether the file needs nothing more: the current schema complete (the
// ticket counter included), last opened in this boot. Plain reads: every
// process opens the file, and `baton run` once per command, so a write
// transaction here would put each start in line for the write lock behind
// every running acquire and release.
bool is_set_up(Connection& conn) {
  return conn.read([&] {
    {
      Query tables(conn, Statement::count_baton_tables);
      if (!tables.step() || tables.int64(0) != 3) return false;
    }
    if (!waiters_have_ttl_column(conn) || !waiters_keyed_by_name(conn)) return false;
    if (read_meta(conn, "schema_version") != std::to_string(schema_version)) return false;
    if (read_meta(conn, "boot_id") != conn.identity().boot_id) return false;
    return ticket_counter_exists(conn);
  });
}

// Brings the tables to the current version, inside a write transaction.
void migrate(Connection& conn) {
  conn.exec(script::create_tables);
  if (!waiters_have_ttl_column(conn)) conn.exec(script::add_ttl_column);
  const auto version = read_meta(conn, "schema_version");
  const std::string current = std::to_string(schema_version);
  if (version && *version != "1" && *version != "2" && *version != current) {
    throw BackendError("sqlite: " + conn.path().string() + " has baton schema version " + *version +
                       ", this build knows only versions 1 to " + current);
  }
  // Version 1 kept the counter in sqlite_sequence: it is read before the
  // table that owns it goes below. Missing in a later version, the row was
  // deleted by hand, and with it the memory of tokens whose rows are gone.
  seed_ticket_counter(conn, version && *version != "1" ? reboot_token_gap : 0);
  if (!waiters_keyed_by_name(conn)) conn.exec(script::rebuild_waiters_keyed_by_name);
  if (version != current) write_meta(conn, "schema_version", current);
}

// The first open after a reboot, inside a write transaction (docs/design.md
// §3.6): the counter moves far ahead in the same transaction as the boot id,
// so a token lost with the last commits of a power failure is never issued
// again; rows of the old boot, void already, are dropped to keep the tables
// small.
void forget_previous_boot(Connection& conn, WakeBoard* board) {
  const std::string& boot = conn.identity().boot_id;
  const auto last_boot = read_meta(conn, "boot_id");
  if (last_boot == boot) return;
  if (last_boot) {
    advance_ticket_counter(conn, reboot_token_gap);
    Query(conn, Statement::delete_holders_of_other_boots).bind_text(Param::boot_id, boot).run();
    Query(conn, Statement::delete_waiters_of_other_boots).bind_text(Param::boot_id, boot).run();
    // Under the write lock: nobody of this boot can be queued yet.
    if (board != nullptr) board->reset();
  }
  write_meta(conn, "boot_id", boot);
}

}  // namespace

void set_up_database(Connection& conn, WakeBoard* board) {
  set_journal_mode(conn);
  if (is_set_up(conn)) return;
  conn.write([&] {
    migrate(conn);
    forget_previous_boot(conn, board);
  });
}

}  // namespace baton::sqlite::detail
