#include "connection.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "baton/error.hpp"

namespace baton::postgres::internal {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

int poll_timeout_ms(Clock::time_point until) {
  if (until == Clock::time_point::max()) return 100;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left + 1, 0, 100));
}

}  // namespace

void throw_sqlstate(const std::string& context, const std::string& sqlstate, const std::string& message) {
  const std::string text = context + ": " + trim(message) + (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")");
  const std::string cls = sqlstate.substr(0, 2);
  if (sqlstate.empty() || cls == "08" || cls == "53" || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03") {
    throw BackendUnavailable(text);
  }
  if (sqlstate == "42501") {
    throw BackendError(text + "; the role needs the privilege (see README, PostgreSQL section)");
  }
  throw BackendError(text);
}

std::unique_ptr<Connection> Connection::open(const std::vector<std::pair<std::string, std::string>>& params,
                                             Clock::time_point deadline) {
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* raw = PQconnectStartParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (raw == nullptr) throw BackendUnavailable("postgres: out of memory starting a connection");
  std::unique_ptr<Connection> conn(new Connection(raw));
  if (PQstatus(raw) == CONNECTION_BAD) conn->fail("cannot connect");
  // Drive the non-blocking connect ourselves so the bound is exact (libpq's
  // connect_timeout is whole seconds, at least 2).
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) conn->fail("cannot connect");
    if (!conn->wait_socket(state == PGRES_POLLING_WRITING, deadline)) {
      if (Clock::now() >= deadline) conn->fail("connect timed out");
      continue;
    }
    state = PQconnectPoll(raw);
  }
  if (PQenterPipelineMode(raw) != 1 || PQsetnonblocking(raw, 1) != 0) conn->fail("cannot enter pipeline mode");
  conn->cancel_ = PQgetCancel(raw);
  return conn;
}

Connection::Connection(PGconn* conn) : conn_(conn) {}

Connection::~Connection() {
  if (cancel_ != nullptr) PQfreeCancel(cancel_);
  PQfinish(conn_);
}

int Connection::backend_pid() const noexcept { return PQbackendPID(conn_); }

std::string Connection::describe() const {
  const char* host = PQhost(conn_);
  const char* port = PQport(conn_);
  const char* db = PQdb(conn_);
  return std::string("postgres ") + (host ? host : "?") + ":" + (port ? port : "?") + "/" + (db ? db : "?");
}

void Connection::fail(const std::string& what) {
  broken_ = true;
  std::string message = trim(PQerrorMessage(conn_));
  // libpq's message can span lines; keep the first, it names the cause.
  if (auto nl = message.find('\n'); nl != std::string::npos) message = message.substr(0, nl);
  throw BackendUnavailable(describe() + ": " + what + (message.empty() ? "" : ": " + message));
}

bool Connection::wait_socket(bool for_write, Clock::time_point until) {
  const int fd = PQsocket(conn_);
  if (fd < 0) fail("connection lost");
  // At most 100 ms per poll, so callers notice stop requests and deadlines.
  pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
  const int n = ::poll(&p, 1, poll_timeout_ms(until));
  if (n < 0 && errno != EINTR) fail("poll failed");
  return n > 0;
}

void Connection::cancel() noexcept {
  if (cancel_ == nullptr) return;
  char err[256];
  PQcancel(cancel_, err, sizeof err);
}

PipelineResult Connection::run(const std::vector<Statement>& statements, Clock::time_point hard_deadline,
                               std::stop_token stop, Clock::time_point cancel_at, bool before_sync) {
  if (broken_) throw BackendUnavailable(describe() + ": connection is broken");
  // One entry per request sent: the statement it belongs to, and whether it
  // is the Parse of a statement prepared on the way (its result is dropped).
  struct Op {
    std::size_t statement;
    bool prepare;
    std::string sql;
  };
  std::vector<Op> ops;
  for (std::size_t i = 0; i < statements.size(); ++i) {
    const auto& st = statements[i];
    auto it = prepared_.find(st.sql);
    if (it == prepared_.end()) {
      // A fresh name each time: a Parse lost in an aborted pipeline may or
      // may not exist on the server.
      const std::string name = "baton_" + std::to_string(next_prepared_++);
      if (PQsendPrepare(conn_, name.c_str(), st.sql.c_str(), 0, nullptr) != 1) fail("cannot send a statement");
      it = prepared_.emplace(st.sql, name).first;
      ops.push_back({i, true, st.sql});
    }
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const auto& p : st.params) {
      values.push_back(p.value ? p.value->data() : nullptr);
      lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
      formats.push_back(p.binary ? 1 : 0);
    }
    if (PQsendQueryPrepared(conn_, it->second.c_str(), static_cast<int>(values.size()), values.data(),
                            lengths.data(), formats.data(), 0) != 1) {
      fail("cannot send a statement");
    }
    ops.push_back({i, false, {}});
  }
  // A flush request makes the server send the results so far at once,
  // instead of after the Sync's work.
  if (before_sync && PQsendFlushRequest(conn_) != 1) fail("cannot send a flush request");
  if (PQpipelineSync(conn_) != 1) fail("cannot send a sync");
  ++pending_syncs_;
  while (true) {
    const int flushed = PQflush(conn_);
    if (flushed == 0) break;
    if (flushed < 0) fail("cannot send");
    if (!wait_socket(true, hard_deadline) && Clock::now() >= hard_deadline) fail("server does not answer");
  }

  PipelineResult out;
  bool cancelled = false;
  std::size_t op = 0;  // the request whose results come next
  for (;;) {
    while (PQisBusy(conn_)) {
      if (!cancelled && (stop.stop_requested() || Clock::now() >= cancel_at)) {
        cancel();
        cancelled = true;
      }
      const auto until = cancelled ? hard_deadline : std::min(hard_deadline, cancel_at);
      if (!wait_socket(false, until)) {
        if (Clock::now() >= hard_deadline) fail("server does not answer");
        continue;
      }
      if (PQconsumeInput(conn_) != 1) fail("connection lost");
    }
    Result r(PQgetResult(conn_));
    if (!r) {
      // End of one request's results, or of the connection.
      if (PQstatus(conn_) == CONNECTION_BAD) {
        if (out.outcome == Outcome::ok) fail("connection lost");
        broken_ = true;
        break;
      }
      ++op;
      // Every statement answered: the Sync's answer is left for later.
      if (before_sync && op == ops.size() && out.outcome == Outcome::ok) return out;
      continue;
    }
    const auto status = PQresultStatus(r.get());
    if (status == PGRES_PIPELINE_SYNC) {
      // The oldest Sync answered; only the last one sent is this pipeline's.
      if (--pending_syncs_ > 0) continue;
      break;
    }
    const bool is_prepare = op < ops.size() && ops[op].prepare;
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
      if (!is_prepare) out.results.push_back(std::move(r));
    } else if (status == PGRES_PIPELINE_ABORTED) {
      // A request after a failed one: not run (a skipped Parse never
      // happened: forget it).
      if (is_prepare) prepared_.erase(ops[op].sql);
    } else {
      if (is_prepare) prepared_.erase(ops[op].sql);
      if (out.outcome == Outcome::ok) {
        const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
        out.outcome = Outcome::failed;
        out.error_sqlstate = state ? state : "";
        out.error_message = PQresultErrorMessage(r.get());
      }
      if (PQstatus(conn_) == CONNECTION_BAD) {
        broken_ = true;
        // A FATAL (terminated session, shutdown) ends the connection: no
        // sync will come.
        break;
      }
    }
  }
  if (PQstatus(conn_) == CONNECTION_BAD) broken_ = true;
  // A failure inside BEGIN ... COMMIT leaves the session in an aborted
  // transaction (the COMMIT was skipped): end it, or the session is useless.
  if (!broken_ && PQtransactionStatus(conn_) == PQTRANS_INERROR) {
    try {
      const auto bound = std::max(hard_deadline, Clock::now() + std::chrono::seconds(5));
      if (run({Statement{"ROLLBACK", {}}}, bound).outcome != Outcome::ok) broken_ = true;
    } catch (const BackendUnavailable&) {
      broken_ = true;  // the caller drops a broken session
    }
  }
  return out;
}

}  // namespace baton::postgres::internal
