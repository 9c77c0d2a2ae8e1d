// A libpq connection in pipeline mode, with every wait bounded by a deadline
// and interruptible by a stop token (docs/design.md §4.1). Internal:
// libpq-fe.h stays out of the public headers. Opening and the socket waits
// are in connection.cpp, run() and its steps in pipeline.cpp.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "baton/options.hpp"

namespace baton::postgres::detail {

struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// One statement of a pipeline: SQL with $n parameters. A parameter is text,
// or binary (bytea) when marked, or SQL NULL when empty.
struct Statement {
  std::string sql;
  struct Param {
    std::optional<std::string> value;
    bool binary = false;
  };
  std::vector<Param> params;
};

// How a pipeline ended.
enum class Outcome {
  ok,         // every statement succeeded
  failed,     // a statement failed; `error_sqlstate`/`error_message` say why
};

struct PipelineResult {
  Outcome outcome = Outcome::ok;
  std::vector<Result> results;  // one per statement that succeeded
  std::string error_sqlstate;
  std::string error_message;
};

// One server session. Not thread-safe, except cancel(), which any thread may
// call. Move-only (held by unique_ptr).
class Connection {
 public:
  // Connects with `conninfo` keywords (dsn expanded) within `deadline`.
  // Throws BackendUnavailable (never naming the password).
  static std::unique_ptr<Connection> open(const std::vector<std::pair<std::string, std::string>>& params,
                                          Clock::time_point deadline);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends `statements` as one pipeline (one round trip) and collects the
  // results (one per statement, in order). Returns when all have answered. If `stop` is requested or
  // `cancel_at` passes first, sends a cancel request and keeps reading (the
  // statement then fails with 57014). If `hard_deadline` passes without an
  // answer the server is unresponsive: the connection is closed and
  // BackendUnavailable thrown. A broken connection is BackendUnavailable too.
  //
  // `before_sync`: return as soon as every statement succeeded, without
  // waiting for the server's answer to the pipeline's Sync (the server sends
  // that only after its idle-time work, e.g. flushing statistics); it is read
  // by the next run(). For a pipeline that writes, the last statement must
  // then be COMMIT (of a BEGIN at its start), or the writes are not yet
  // committed when this returns. A failed pipeline waits for the Sync as
  // usual, and one whose explicit transaction it left aborted is rolled back.
  PipelineResult run(const std::vector<Statement>& statements, Clock::time_point hard_deadline,
                     std::stop_token stop = {}, Clock::time_point cancel_at = Clock::time_point::max(),
                     bool before_sync = false);

  // Asks the server to cancel the statement in progress, from a detached
  // thread: libpq's PQcancel waits for the server's answer without a bound,
  // and a frozen server must not hold the caller past its deadline. Returns
  // at once. Thread-safe.
  void cancel() noexcept;

  bool broken() const noexcept { return broken_; }
  // True once a run() has sent a cancel request. Its delivery is
  // asynchronous, so it may still strike a later statement of this
  // session: such a session is never reused for another lock (the pool
  // drops it).
  bool cancel_sent() const noexcept { return cancel_sent_; }
  // Backend pid of the session (for messages and tests).
  int backend_pid() const noexcept;
  // "host:port/db" for messages; never the password.
  std::string describe() const;

 private:
  // One request sent in a pipeline: the statement it belongs to, and
  // whether it is the Parse of a statement prepared on the way (its result
  // is not one of the caller's).
  struct Request {
    std::size_t statement;
    bool prepare;
    std::string sql;
  };
  // The bounds of one run(): when to send a cancel request (a stop request
  // or `cancel_at`), and when to give the server up. `cancel_sent` is set
  // by whichever sends the one cancel request of the run: the reading
  // thread, or the stop callback on the thread that requests the stop.
  struct Bounds {
    std::stop_token stop;
    Clock::time_point cancel_at;
    Clock::time_point hard_deadline;
    std::atomic<bool> cancel_sent = false;
  };

  explicit Connection(PGconn* conn);
  // Waits until the socket is readable (or writable) or `until`. Returns
  // false on timeout.
  bool wait_socket(bool for_write, Clock::time_point until);
  // Marks the connection broken and throws BackendUnavailable naming `what`
  // and libpq's message.
  [[noreturn]] void fail(const std::string& what);

  // pipeline.cpp: the steps of run().
  std::vector<Request> send_statements(const std::vector<Statement>& statements);
  const std::string& prepared_name(const std::string& sql, std::vector<Request>& requests, std::size_t statement);
  void send_sync(bool before_sync, Clock::time_point hard_deadline);
  bool collect_results(const std::vector<Request>& requests, Bounds& bounds, bool before_sync, PipelineResult& out);
  void await_result(Bounds& bounds);
  void cancel_once(Bounds& bounds) noexcept;
  bool record_result(Result result, const Request* request, PipelineResult& out);
  void recover_aborted_transaction(Clock::time_point hard_deadline);

  PGconn* conn_;
  // Shared with the threads that deliver cancel requests (cancel()), which
  // may outlive this session.
  std::shared_ptr<PGcancel> cancel_;
  bool broken_ = false;
  bool cancel_sent_ = false;
  // SQL text -> name of its prepared statement on this session. Statements
  // are prepared on first use, inside the same pipeline, so planning is paid
  // once per session, not per call.
  std::map<std::string, std::string, std::less<>> prepared_;
  unsigned next_prepared_ = 0;
  // Syncs sent whose answer (ReadyForQuery) is still to be read: a run()
  // that returned before its Sync answered leaves one.
  unsigned pending_syncs_ = 0;
};

// The one place libpq's errors become baton's (through kit::raise):
// BackendUnavailable for connection-class failures (SQLSTATE 08xxx, 57P0x,
// 53xxx) and BackendError for the rest, with `context` and the server's
// message.
[[noreturn]] void raise_sqlstate(const std::string& context, const std::string& sqlstate,
                                 const std::string& message);

}  // namespace baton::postgres::detail
