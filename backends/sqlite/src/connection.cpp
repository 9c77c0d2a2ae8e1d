#include "connection.hpp"

#include <algorithm>
#include <string>
#include <thread>

#include "baton/error.hpp"
#include "host.hpp"

namespace baton::sqlite::detail {
namespace {

// Liveness of a stored holder or waiter, in SQL. A row is alive unless
// another boot wrote it (its clock values mean nothing now) or it names a
// process of our boot and pid namespace that certainly is gone. Leases and
// heartbeats are compared in SQL next to it.
#define BATON_ALIVE(t) "baton_alive(" t "boot_id, " t "proc_pid, " t "proc_start, " t "pid_ns)"

// Indexed by Sql. Names are always bound as BLOBs, never spliced into text.
constexpr const char* sql_text[] = {
    // begin_immediate
    "BEGIN IMMEDIATE",
    // begin_read
    "BEGIN",
    // commit
    "COMMIT",
    // rollback
    "ROLLBACK",
    // data_version
    "PRAGMA data_version",
    // purge_holder: ?1 name, ?2 now
    "DELETE FROM baton_holders WHERE name = ?1 AND NOT ((expires_at IS NULL OR expires_at > ?2) AND " BATON_ALIVE("") ")",
    // purge_ahead: the dead waiters in front of ticket ?2, up to the first
    // live one (those behind it are someone else's business and would only
    // make this write transaction longer). ?1 name, ?2 ticket, ?3 now
    "DELETE FROM baton_waiters WHERE name = ?1 AND ticket < coalesce((SELECT ticket FROM baton_waiters "
    "WHERE name = ?1 AND ticket < ?2 AND heartbeat_deadline > ?3 AND " BATON_ALIVE("") " ORDER BY ticket LIMIT 1), ?2)",
    // insert_waiter
    "INSERT INTO baton_waiters(name, owner, host, pid, proc_pid, proc_start, pid_ns, boot_id, heartbeat_deadline, "
    "ticket, ttl_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    // beat: ?1 ticket, ?2 new heartbeat deadline, ?3 name
    "UPDATE baton_waiters SET heartbeat_deadline = ?2 WHERE name = ?3 AND ticket = ?1",
    // delete_waiter: ?1 ticket, ?2 name
    "DELETE FROM baton_waiters WHERE name = ?2 AND ticket = ?1",
    // holder_row: ?1 name, ?2 now; the row (live or not), whether it is
    // live, and whose it is (a grant handed to a waiter by its releaser)
    "SELECT expires_at, ifnull(expires_at > ?2, 1) AND " BATON_ALIVE("") ", token, owner FROM baton_holders "
    "WHERE name = ?1",
    // first_row: ?1 name, ?2 ticket, ?3 now; the first waiter ahead of
    // ticket ?2 (live or not) and whether it is live
    "SELECT ticket, heartbeat_deadline, heartbeat_deadline > ?3 AND " BATON_ALIVE("") " FROM baton_waiters "
    "WHERE name = ?1 AND ticket < ?2 ORDER BY ticket LIMIT 1",
    // first_ahead: ?1 name, ?2 ticket, ?3 now
    "SELECT ticket, heartbeat_deadline FROM baton_waiters WHERE name = ?1 AND ticket < ?2 AND heartbeat_deadline > ?3 AND " BATON_ALIVE("") " ORDER BY ticket LIMIT 1",
    // insert_holder: replaces a dead row (the caller has seen it is dead)
    "INSERT OR REPLACE INTO baton_holders(name, token, owner, host, pid, proc_pid, proc_start, pid_ns, boot_id, acquired_at, expires_at) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    // renew: ?1 name, ?2 token, ?3 owner, ?4 new expiry, ?5 boot id, ?6 now
    "UPDATE baton_holders SET expires_at = ?4 WHERE name = ?1 AND token = ?2 AND owner = ?3 AND boot_id = ?5 "
    "AND (expires_at IS NULL OR expires_at > ?6)",
    // release: ?1 name, ?2 token, ?3 owner, ?4 boot id, ?5 now; deletes our
    // grant only while it is live (changes() tells). No RETURNING here or on
    // any hot path: it buffers rows in an ephemeral table whose set-up and
    // tear-down cost more than the rest of the statement.
    "DELETE FROM baton_holders WHERE name = ?1 AND token = ?2 AND owner = ?3 AND boot_id = ?4 "
    "AND ifnull(expires_at > ?5, 1)",
    // drop_holder: ?1 name, ?2 token, ?3 owner; our expired grant, as cleanup.
    "DELETE FROM baton_holders WHERE name = ?1 AND token = ?2 AND owner = ?3",
    // inspect_holder: ?1 name, ?2 now
    "SELECT token, owner, host, pid, acquired_at, expires_at FROM baton_holders WHERE name = ?1 "
    "AND (expires_at IS NULL OR expires_at > ?2) AND " BATON_ALIVE(""),
    // count_waiters: ?1 name, ?2 now
    "SELECT count(*) FROM baton_waiters WHERE name = ?1 AND heartbeat_deadline > ?2 AND " BATON_ALIVE(""),
    // list_holders: ?1 now
    "SELECT h.name, h.token, h.owner, h.host, h.pid, h.acquired_at, h.expires_at, "
    "(SELECT count(*) FROM baton_waiters w WHERE w.name = h.name AND w.heartbeat_deadline > ?1 AND " BATON_ALIVE("w.") ") "
    "FROM baton_holders h WHERE h.name <> " BATON_TICKET_COUNTER " AND (h.expires_at IS NULL OR h.expires_at > ?1) AND "
    BATON_ALIVE("h."),
    // clear: ?1 name, ?2 now; returns whether the row was a live grant.
    // ifnull(), not "expires_at IS NULL": SQLite 3.40 evaluates the latter
    // to 0 in the RETURNING clause of a DELETE on a WITHOUT ROWID table.
    // The ticket counter's row is never cleared, even by its reserved name.
    "DELETE FROM baton_holders WHERE name = ?1 AND name <> " BATON_TICKET_COUNTER
    " RETURNING ifnull(expires_at > ?2, 1) AND " BATON_ALIVE(""),
    // next_ticket: advances the ticket counter (see SqliteLock::take_ticket)
    "UPDATE baton_holders SET token = token + 1 WHERE name = " BATON_TICKET_COUNTER,
    // read_ticket
    "SELECT token FROM baton_holders WHERE name = " BATON_TICKET_COUNTER,
    // hand_off: ?1 ticket, ?2 wall ms, ?3 now, ?4 name; the waiter's row becomes the
    // holder row, its ticket the token, its own ttl the lease (negative:
    // forever). A row without ttl_ms (written by hand or by an older
    // version, which would not recognise a grant made for it) is left alone.
    "INSERT OR REPLACE INTO baton_holders(name, token, owner, host, pid, proc_pid, proc_start, pid_ns, boot_id, "
    "acquired_at, expires_at) SELECT name, ticket, owner, host, pid, proc_pid, proc_start, pid_ns, boot_id, ?2, "
    "CASE WHEN ttl_ms < 0 THEN NULL ELSE ?3 + ttl_ms * 1000000 END FROM baton_waiters "
    "WHERE name = ?4 AND ticket = ?1 AND ttl_ms IS NOT NULL",
    // own_ticket: ?1 name, ?2 owner, ?3 now; the row a writer queued for a
    // posted join request of this owner (join_requests.hpp), or the live grant a
    // release made of it. An owner waits for one name at a time.
    "SELECT ticket FROM baton_waiters WHERE name = ?1 AND owner = ?2 UNION ALL "
    "SELECT token FROM baton_holders WHERE name = ?1 AND owner = ?2 AND ifnull(expires_at > ?3, 1) LIMIT 1",
};
static_assert(std::size(sql_text) == static_cast<std::size_t>(Sql::count_));

#undef BATON_ALIVE

std::string_view value_text(sqlite3_value* value) {
  auto* text = sqlite3_value_text(value);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_value_bytes(value))};
}

// baton_alive(boot_id, proc_pid, proc_start, pid_ns): see BATON_ALIVE.
void sql_alive(sqlite3_context* context, int, sqlite3_value** args) {
  const auto& self = *static_cast<const Identity*>(sqlite3_user_data(context));
  if (value_text(args[0]) != self.boot_id) {
    sqlite3_result_int(context, 0);
    return;
  }
  bool alive = true;
  if (!self.pid_ns.empty() && value_text(args[3]) == self.pid_ns) {
    std::optional<std::int64_t> start;
    if (sqlite3_value_type(args[2]) != SQLITE_NULL) start = sqlite3_value_int64(args[2]);
    alive = !process_gone(sqlite3_value_int64(args[1]), start);
  }
  sqlite3_result_int(context, alive ? 1 : 0);
}

}  // namespace

// ---------------------------------------------------------------- Query

Query::Query(Connection& conn, Sql sql) : conn_(conn), stmt_(conn.statement(sql)) {}

Query::Query(Connection& conn, const char* sql) : conn_(conn), stmt_(nullptr), owned_(true) {
  int rc = sqlite3_prepare_v2(conn.db_, sql, -1, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    conn.fail(rc, "preparing a statement");
  }
}

Query::~Query() {
  // Resetting ends the statement's implicit transaction; its result code
  // repeats the step error already reported.
  if (owned_) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Query& Query::bind(int index, std::int64_t value) {
  if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) conn_.fail(rc, "binding a value");
  return *this;
}

Query& Query::bind(int index, std::optional<std::int64_t> value) {
  if (value) return bind(index, *value);
  if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) conn_.fail(rc, "binding a value");
  return *this;
}

Query& Query::bind_text(int index, std::string_view value) {
  // SQLITE_STATIC: the bound bytes outlive the Query, whose destructor
  // clears the bindings; no copy on the hot path.
  int rc = sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK) conn_.fail(rc, "binding a value");
  return *this;
}

Query& Query::bind_blob(int index, std::string_view value) {
  // A zero-length blob with a null pointer would bind NULL; "" keeps it a blob.
  const char* data = value.data() != nullptr ? value.data() : "";
  int rc = sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_STATIC);
  if (rc != SQLITE_OK) conn_.fail(rc, "binding a lock name");
  return *this;
}

bool Query::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  conn_.fail(rc, "running a statement");
}

int Query::run() {
  while (step()) {
  }
  return sqlite3_changes(conn_.db_);
}

bool Query::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::int64_t Query::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::optional<std::int64_t> Query::optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return int64(column);
}

std::string Query::text(int column) const {
  auto* data = sqlite3_column_text(stmt_, column);
  if (data == nullptr) return {};
  return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::string Query::blob(int column) const {
  auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  if (data == nullptr) return {};
  return {data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

// ---------------------------------------------------------------- Connection

Connection::Connection(std::filesystem::path path, std::shared_ptr<const Identity> identity,
                       std::chrono::milliseconds busy_timeout, std::shared_ptr<WakeBoard> board)
    : path_(std::move(path)), identity_(std::move(identity)), busy_timeout_(busy_timeout), board_(std::move(board)) {
  // NOMUTEX: the owner already serializes every use of one connection, so
  // SQLite's own per-connection mutex would only cost time.
  int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "";
    sqlite3_close_v2(db_);
    db_ = nullptr;
    raise_sqlite_error(rc, message, path_, "opening the database");
  }
  try {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_handler(db_, &Connection::on_busy, this);
    rc = sqlite3_create_function_v2(db_, "baton_alive", 4, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                    const_cast<Identity*>(identity_.get()), &sql_alive, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(rc, "registering baton_alive()");
    // synchronous=NORMAL: in WAL mode a commit then costs no fsync; a power
    // failure may lose the last commits, which the reboot check answers by
    // moving the token counter far ahead (see the backend's open).
    run([&] { exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF"); });
  } catch (...) {
    sqlite3_close_v2(db_);
    throw;
  }
}

Connection::~Connection() {
  for (auto* stmt : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

sqlite3_stmt* Connection::statement(Sql sql) {
  auto& slot = statements_[static_cast<std::size_t>(sql)];
  if (slot == nullptr) {
    int rc = sqlite3_prepare_v3(db_, sql_text[static_cast<std::size_t>(sql)], -1, SQLITE_PREPARE_PERSISTENT, &slot,
                                nullptr);
    if (rc != SQLITE_OK) {
      slot = nullptr;
      fail(rc, "preparing a statement");
    }
  }
  return slot;
}

void Connection::prepare(std::initializer_list<Sql> sqls) noexcept {
  for (Sql sql : sqls) {
    try {
      statement(sql);
    } catch (...) {
      return;
    }
  }
}

void Connection::fail(int rc, std::string_view doing) {
  std::string message = sqlite3_errmsg(db_);
  if (is_busy(rc)) throw Busy{rc, std::move(message)};
  raise_sqlite_error(rc, message, path_, doing);
}

void Connection::exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, "setting up the database");
}

std::int64_t Connection::data_version() {
  Query query(*this, Sql::data_version);
  query.step();
  return query.int64(0);
}

void Connection::commit() {
  Query(*this, Sql::commit).run();
  if (board_) board_->write_ended();
}

void Connection::abandon_transaction() noexcept {
  if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    if (board_) board_->write_ended();  // it may have held the write lock
  }
}

void Connection::raise_busy(const Busy& busy) const {
  raise_sqlite_error(busy.rc, busy.message + " (still locked by another writer after the busy timeout of " +
                           std::to_string(busy_timeout_.count()) + " ms)",
              path_, "waiting for the database");
}

void Connection::retry_pause() { std::this_thread::sleep_for(std::chrono::microseconds(200)); }

int Connection::on_busy(void* self, int count) {
  auto& conn = *static_cast<Connection*>(self);
  auto now = Clock::now();
  if (count == 0) conn.busy_since_ = now;
  // The second bound covers a statement run outside Connection::run().
  if (now >= conn.busy_limit_ || now - conn.busy_since_ >= conn.busy_timeout_) return 0;
  if (conn.busy_stop_ != nullptr && conn.busy_stop_->stop_requested()) return 0;
  // With the wake board, sleep until a baton writer ends its transaction
  // (wake_board.hpp says why neither napping nor yielding will do); 1 ms at
  // most, for writers that are not baton's.
  if (conn.board_) {
    const auto left = std::min<Clock::duration>(conn.busy_limit_ - now, std::chrono::milliseconds(1));
    conn.board_->wait_for_write_end(conn.writes_seen_, left);
    // For the next attempt, should it fail too: the writer ahead of it ends
    // after this read.
    conn.writes_seen_ = conn.board_->writes_ended();
    return 1;
  }
  // Without it: the usual writer holds the lock for tens of microseconds;
  // first just yield (a sleep, however short, costs the timer slack, ~50
  // us), then naps, longer as the wait grows.
  const auto busy_for = now - conn.busy_since_;
  if (busy_for < std::chrono::milliseconds(2)) {
    std::this_thread::yield();
    return 1;
  }
  std::chrono::microseconds pause = busy_for < std::chrono::milliseconds(20) ? std::chrono::microseconds(100)
                                    : busy_for < std::chrono::milliseconds(200) ? std::chrono::microseconds(500)
                                                                               : std::chrono::microseconds(2000);
  auto left = conn.busy_limit_ - now;
  if (left < pause) pause = std::chrono::duration_cast<std::chrono::microseconds>(left) + std::chrono::microseconds(1);
  std::this_thread::sleep_for(pause);
  return 1;
}

Connection::Limits::Limits(Connection& conn, Clock::time_point limit, const std::stop_token* stop)
    : conn_(conn), saved_limit_(conn.busy_limit_), saved_stop_(conn.busy_stop_) {
  conn_.busy_limit_ = std::min(limit, saved_limit_);
  if (stop != nullptr) conn_.busy_stop_ = stop;
}

Connection::Limits::~Limits() {
  conn_.busy_limit_ = saved_limit_;
  conn_.busy_stop_ = saved_stop_;
}

}  // namespace baton::sqlite::detail
