// The SQL of the PostgreSQL backend (docs/design.md §4), built once per
// backend for its schema. The text is fixed; lock names and values only
// ever travel as parameters ($n), never inside the text.
#pragma once

#include <string>

namespace baton::postgres::detail {

// `id` as a quoted SQL identifier ("my""schema").
std::string quote_ident(const std::string& id);

struct Sql {
  explicit Sql(const std::string& schema);

  std::string table;  // "<schema>".baton_locks, quoted
  std::string create;
  // $1 name, $2 key, $3 owner, $4 host, $5 pid, $6 lease ms (NULL: forever),
  // $7 lock_timeout, $8 idle_session_timeout. Return the new token; a
  // try_acquire that finds the lock taken returns no row.
  std::string acquire, try_acquire;
  // $1 name, $2 token, $3 lease ms (NULL: forever), $4 idle_session_timeout.
  // Returns 1 when this session still holds that grant.
  std::string renew;
  // $1 key. Frees the advisory lock and the session's idle timeout.
  std::string release;
  // $1 name, $2 key, $3 the table.
  std::string inspect;
  std::string list;
  // $1 the table.
  std::string in_flight;
  // $1 name.
  std::string clear;
};

// Resets, on a new session, what a role or database default might have
// set: an idle timeout on a pooled session would kill it, a statement
// timeout would cut a long wait short. $1 client_connection_check_interval.
extern const char* const session_setup_sql;

}  // namespace baton::postgres::detail
