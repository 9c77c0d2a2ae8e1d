#include "connection.hpp"

#include <algorithm>
#include <string>
#include <thread>

#include "baton/error.hpp"

namespace baton::sqlite::detail {
namespace {

std::string_view value_text(sqlite3_value* value) {
  auto* text = sqlite3_value_text(value);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_value_bytes(value))};
}

// baton_alive(boot_id, proc_pid, proc_start, pid_ns): whether a stored row
// is alive (statements.cpp; docs/design.md §3.4).
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

Query::Query(Connection& conn, Statement statement)
    : Query(conn, conn.prepared(statement)) {}

Query::Query(Connection& conn, const PreparedStatement& prepared)
    : conn_(conn), stmt_(prepared.stmt), params_(prepared.params) {}

Query::~Query() {
  // Resetting ends the statement's implicit transaction; its result code
  // repeats the step error already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Query::index(Param param) const noexcept { return params_[static_cast<std::size_t>(param)]; }

Query& Query::bind(Param param, std::int64_t value) {
  if (int rc = sqlite3_bind_int64(stmt_, index(param), value); rc != SQLITE_OK) conn_.fail(rc, "binding a value");
  return *this;
}

Query& Query::bind(Param param, std::optional<std::int64_t> value) {
  if (value) return bind(param, *value);
  if (int rc = sqlite3_bind_null(stmt_, index(param)); rc != SQLITE_OK) conn_.fail(rc, "binding a value");
  return *this;
}

Query& Query::bind_text(Param param, std::string_view value) {
  // SQLITE_STATIC: the bound bytes outlive the Query, whose destructor
  // clears the bindings; no copy on the hot path.
  int rc = sqlite3_bind_text64(stmt_, index(param), value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK) conn_.fail(rc, "binding a value");
  return *this;
}

Query& Query::bind_blob(Param param, std::string_view value) {
  // A zero-length blob with a null pointer would bind NULL; "" keeps it a blob.
  const char* data = value.data() != nullptr ? value.data() : "";
  int rc = sqlite3_bind_blob64(stmt_, index(param), data, value.size(), SQLITE_STATIC);
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
                       std::chrono::milliseconds busy_timeout, std::shared_ptr<WakeBoard> board,
                       std::shared_ptr<WriteGate> gate)
    : path_(std::move(path)),
      identity_(std::move(identity)),
      busy_timeout_(busy_timeout),
      board_(std::move(board)),
      gate_(std::move(gate)) {
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
    run([&] { exec(script::connection_pragmas); });
  } catch (...) {
    sqlite3_close_v2(db_);
    throw;
  }
}

Connection::~Connection() {
  for (auto& prepared : statements_) sqlite3_finalize(prepared.stmt);
  sqlite3_close_v2(db_);
}

PreparedStatement& Connection::prepared(Statement statement) {
  auto& slot = statements_[static_cast<std::size_t>(statement)];
  if (slot.stmt != nullptr) return slot;
  int rc = sqlite3_prepare_v3(db_, statement_text(statement), -1, SQLITE_PREPARE_PERSISTENT, &slot.stmt, nullptr);
  if (rc != SQLITE_OK) {
    slot.stmt = nullptr;
    fail(rc, "preparing a statement");
  }
  for (std::size_t p = 0; p < param_count; ++p) {
    slot.params[p] = sqlite3_bind_parameter_index(slot.stmt, param_name(static_cast<Param>(p)));
  }
  return slot;
}

void Connection::prepare(std::initializer_list<Statement> statements) noexcept {
  for (Statement statement : statements) {
    try {
      prepared(statement);
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

void Connection::exec(const char* script) {
  int rc = sqlite3_exec(db_, script, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, "setting up the database");
}

std::int64_t Connection::data_version() {
  Query query(*this, Statement::data_version);
  query.step();
  return query.int64(0);
}

void Connection::commit() {
  Query(*this, Statement::commit).run();
  if (board_) board_->write_ended();
}

void Connection::abandon_transaction() noexcept {
  if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    if (board_) board_->write_ended();  // it may have held the write lock
  }
}

void Connection::raise_busy(const Busy& busy) const {
  raise_sqlite_error(busy.rc, busy.message + " (no write transaction ended within the busy timeout of " +
                           std::to_string(busy_timeout_.count()) + " ms)",
              path_, "waiting for the database");
}

void Connection::restart_stall_clock(Clock::time_point now) noexcept {
  stalled_since_ = now;
  if (board_) progress_seen_ = board_->writes_ended();
}

bool Connection::stalled(Clock::time_point now) noexcept {
  if (board_ && board_->writes_ended() != progress_seen_) restart_stall_clock(now);
  return now - stalled_since_ >= busy_timeout_;
}

void Connection::enter_gate(Clock::time_point deadline, const std::stop_token* stop) {
  if (!gate_) return;
  switch (gate_->enter(deadline, stop, busy_timeout_, board_.get())) {
    case GateEntry::admitted: return;
    case GateEntry::interrupted: throw Interrupted{};
    case GateEntry::stalled:
      raise_busy(Busy{SQLITE_BUSY, "database is locked"});
  }
}

void Connection::retry_pause() { std::this_thread::sleep_for(std::chrono::microseconds(200)); }

int Connection::on_busy(void* self, int count) {
  auto& conn = *static_cast<Connection*>(self);
  auto now = Clock::now();
  // A statement run outside Connection::run() has a stall clock of its own.
  if (count == 0 && conn.run_depth_ == 0) conn.restart_stall_clock(now);
  if (now >= conn.busy_limit_ || conn.stalled(now)) return 0;
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
  // first just yield (a sleep, however short, costs the timer slack), then
  // naps, longer as the wait grows.
  const auto busy_for = now - conn.stalled_since_;
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
  if (conn_.run_depth_++ == 0) conn_.restart_stall_clock(Clock::now());
}

Connection::Limits::~Limits() {
  --conn_.run_depth_;
  conn_.busy_limit_ = saved_limit_;
  conn_.busy_stop_ = saved_stop_;
}

}  // namespace baton::sqlite::detail
