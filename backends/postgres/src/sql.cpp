// The statements of sql.hpp. Each builder returns one statement's text for
// the quoted table name `t`.
#include "sql.hpp"

namespace baton::postgres::detail {

namespace {

// "<alias> is an advisory lock in this database whose 64-bit key = ".
std::string advisory(const std::string& a) {
  return a + ".locktype = 'advisory' AND " + a + ".objsubid = 1 AND " + a +
         ".database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND ((" + a +
         ".classid::bigint << 32) | " + a + ".objid::bigint) = ";
}

std::string create_sql(const std::string& t) {
  return "CREATE TABLE IF NOT EXISTS " + t +
         " (name bytea PRIMARY KEY, lock_key bigint NOT NULL, token bigint NOT NULL, owner text, host text,"
         " pid bigint, backend_pid integer, acquired_at timestamptz, expires_at timestamptz)";
}

// The lock is taken in the FROM clause (`lock_select`), so the row is
// written only once it is granted, in the same statement (one round trip).
// The session's timeouts (`timeouts`) are set in that same select list, left
// of the lock, so they are in force when its wait begins (the server
// evaluates a select list in order, and keeps volatile outputs a query does
// not read) without a statement of their own: $7 lock_timeout, $8
// idle_session_timeout. The row's token goes up by one per grant.
std::string upsert_sql(const std::string& t, const std::string& timeouts, const std::string& lock_select) {
  return "INSERT INTO " + t +
         " AS l (name, lock_key, token, owner, host, pid, backend_pid, acquired_at, expires_at)"
         " SELECT $1::bytea, $2::bigint, 1, $3, $4, $5::bigint, pg_backend_pid(), clock_timestamp(),"
         " clock_timestamp() + $6::bigint * interval '1 millisecond' FROM (SELECT " +
         timeouts + lock_select +
         " ON CONFLICT (name) DO UPDATE SET token = l.token + 1, lock_key = EXCLUDED.lock_key,"
         " owner = EXCLUDED.owner, host = EXCLUDED.host, pid = EXCLUDED.pid, backend_pid = EXCLUDED.backend_pid,"
         " acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at RETURNING l.token";
}

// Renew checks token and backend pid, so a renewal on another session
// (a transaction pooler) or of an older grant is a loss (§4.6).
std::string renew_sql(const std::string& t) {
  return "WITH u AS (UPDATE " + t +
         " SET expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond'"
         " WHERE name = $1::bytea AND token = $2::bigint AND backend_pid = pg_backend_pid() RETURNING 1)"
         " SELECT (SELECT count(*) FROM u), set_config('idle_session_timeout', $4, false)";
}

// Token, owner, host, pid, acquired-at (epoch ms) and lease left (ms, NULL
// for forever) of the row aliased l.
const char* const holder_columns =
    "l.token, l.owner, l.host, l.pid, floor(extract(epoch FROM l.acquired_at) * 1000)::bigint,"
    " CASE WHEN l.expires_at IS NULL THEN NULL ELSE greatest(0, floor(extract(epoch FROM"
    " (l.expires_at - clock_timestamp())) * 1000))::bigint END";

// Held means: the advisory lock is granted to the very session the row
// names, so a crashed holder's stale row never shows as held. Columns: the
// holder's (NULL when not held), the waiters, and one that tells a grant
// that is not visible yet from a free lock: NULL when no session holds the
// key, true when the one that does is inside its acquire (it holds a write
// lock on the table: the row naming it is not committed yet), false for any
// other session (one that took the key by hand).
std::string inspect_sql(const std::string& t) {
  return std::string("SELECT ") + holder_columns + ", (SELECT count(*) FROM pg_locks w WHERE NOT w.granted AND " +
         advisory("w") + "$2::bigint), (SELECT bool_or(r.relation IS NOT NULL) FROM pg_locks g" +
         " LEFT JOIN pg_locks r ON r.pid = g.pid AND r.granted AND r.locktype = 'relation' AND" +
         " r.relation = $3::regclass AND r.mode = 'RowExclusiveLock' WHERE g.granted AND " + advisory("g") +
         "$2::bigint) FROM (SELECT 1) AS one LEFT JOIN (" + t + " l JOIN pg_locks h ON h.pid = l.backend_pid AND" +
         " h.granted AND " + advisory("h") + "l.lock_key) ON l.name = $1::bytea";
}

// Every name whose key is held; the last column says whether the row
// names the holder (false: taken by hand, holder unknown).
std::string list_sql(const std::string& t) {
  const std::string waiters =
      "(SELECT count(*) FROM pg_locks w WHERE NOT w.granted AND " + advisory("w") + "l.lock_key)";
  return std::string("SELECT DISTINCT ON (l.name) l.name, ") + holder_columns + ", " + waiters +
         ", h.pid = l.backend_pid FROM " + t + " l JOIN pg_locks h ON h.granted AND " + advisory("h") +
         "l.lock_key ORDER BY l.name, h.pid = l.backend_pid DESC";
}

// Keys granted to a session inside its acquire: it holds a write lock on
// the table and no committed row names it yet.
std::string in_flight_sql(const std::string& t) {
  return "SELECT count(*) FROM pg_locks g JOIN pg_locks r ON r.pid = g.pid AND r.granted AND"
         " r.locktype = 'relation' AND r.relation = $1::regclass AND r.mode = 'RowExclusiveLock'"
         " WHERE g.granted AND g.locktype = 'advisory' AND g.objsubid = 1 AND g.database ="
         " (SELECT oid FROM pg_database WHERE datname = current_database()) AND NOT EXISTS (SELECT 1 FROM " +
         t + " l WHERE l.backend_pid = g.pid AND " + advisory("g") + "l.lock_key)";
}

// Ends the holding session, which frees its advisory lock (§4.4).
std::string clear_sql(const std::string& t) {
  return "SELECT pg_terminate_backend(h.pid, 5000) FROM " + t +
         " l JOIN pg_locks h ON h.pid = l.backend_pid AND h.granted AND " + advisory("h") +
         "l.lock_key WHERE l.name = $1::bytea";
}

}  // namespace

std::string quote_ident(const std::string& id) {
  std::string out = "\"";
  for (char c : id) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

Sql::Sql(const std::string& schema)
    : table(quote_ident(schema) + ".baton_locks"),
      create(create_sql(table)),
      // A failed wait is an error, which rolls its set_config back.
      acquire(upsert_sql(table,
                         "set_config('lock_timeout', $7, false) AS lt, set_config('idle_session_timeout', $8, "
                         "false) AS it, ",
                         "pg_advisory_lock($2::bigint)) AS g")),
      // A failed try commits, so it sets the idle timeout only when granted
      // (CASE evaluates its branch only then): a session that keeps one goes
      // back to the pool, where the server would end it after the lease and
      // hand the next user of the pool a dead connection.
      try_acquire(upsert_sql(table, "set_config('lock_timeout', $7, false) AS lt, ",
                             "pg_try_advisory_lock($2::bigint) AS ok) AS g WHERE CASE WHEN g.ok THEN "
                             "set_config('idle_session_timeout', $8, false) IS NOT NULL ELSE false END")),
      renew(renew_sql(table)),
      // Only the advisory lock is let go: the row may keep naming this
      // session, because inspect and list trust a row only while pg_locks
      // shows its key granted to that very session.
      release("SELECT pg_advisory_unlock($1::bigint), set_config('idle_session_timeout', '0', false)"),
      inspect(inspect_sql(table)),
      list(list_sql(table)),
      in_flight(in_flight_sql(table)),
      clear(clear_sql(table)) {}

const char* const session_setup_sql =
    "SELECT set_config('client_connection_check_interval', $1, false),"
    " set_config('idle_session_timeout', '0', false),"
    " set_config('statement_timeout', '0', false),"
    " set_config('lock_timeout', '0', false)";

}  // namespace baton::postgres::detail
