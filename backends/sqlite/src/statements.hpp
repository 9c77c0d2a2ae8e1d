// statements.hpp: every SQL statement the SQLite backend runs, by name.
//
// The text lives in statements.cpp and nowhere else. Parameters are named
// (":name", ":ticket", ...); a Connection resolves each statement's
// parameter indices once, when it prepares the statement, so a bind is an
// array lookup. Lock names are always bound as BLOBs, never spliced in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace baton::sqlite::detail {

// The schema version this build writes; older ones are migrated (schema.cpp).
inline constexpr std::int64_t schema_version = 3;

// Every single statement the backend runs, prepared once per connection.
enum class Statement : std::size_t {
  // Transactions.
  begin_immediate,
  begin_read,
  commit,
  data_version,
  // Schema set-up (schema.cpp, ticket_counter.cpp).
  set_page_size,
  set_journal_mode_wal,
  count_baton_tables,
  table_exists,
  waiters_keyed_by_name,
  waiters_have_ttl_column,
  read_meta,
  write_meta,
  seed_ticket_counter,
  seed_ticket_counter_from_v1,
  advance_ticket_counter_by,
  delete_holders_of_other_boots,
  delete_waiters_of_other_boots,
  // The ticket counter.
  next_ticket,
  read_ticket,
  // The queue (lock_queue.cpp).
  read_holder,
  purge_dead_holder,
  read_first_waiter_ahead,
  read_first_live_waiter_ahead,
  purge_dead_waiters_ahead,
  insert_waiter,
  refresh_heartbeat,
  delete_waiter,
  find_own_ticket,
  insert_holder,
  hand_to_waiter,
  renew,
  release,
  drop_own_holder,
  // Admin (admin.cpp).
  inspect_holder,
  count_live_waiters,
  list_holders,
  clear,
  count_,
};

// Every named parameter any statement takes.
enum class Param : std::size_t {
  name,
  ticket,
  token,
  now,
  owner,
  host,
  pid,
  proc_pid,
  proc_start,
  pid_ns,
  boot_id,
  heartbeat_deadline,
  ttl_ms,
  acquired_at,
  expires_at,
  key,
  value,
  table,
  gap,
  count_,
};

inline constexpr std::size_t statement_count = static_cast<std::size_t>(Statement::count_);
inline constexpr std::size_t param_count = static_cast<std::size_t>(Param::count_);

// A statement's index of each Param; 0 for one it does not take (binding
// that fails with SQLITE_RANGE).
using ParamIndices = std::array<int, param_count>;

// The SQL text of `statement`.
const char* statement_text(Statement statement) noexcept;
// ":name" for Param::name, and so on.
const char* param_name(Param param) noexcept;

// Multi-statement scripts of schema set-up, run through Connection::exec().
namespace script {
// Per-connection settings (docs/design.md §3.1).
extern const char* const connection_pragmas;
// The three tables of the current version, where missing.
extern const char* const create_tables;
// Version 1 had no ttl_ms column.
extern const char* const add_ttl_column;
// Versions 1 and 2: baton_waiters rebuilt keyed by (name, ticket), keeping
// every row and its ticket.
extern const char* const rebuild_waiters_keyed_by_name;
}  // namespace script

}  // namespace baton::sqlite::detail
