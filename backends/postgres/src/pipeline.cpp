// Connection::run(): one pipeline, in three steps.
//  - send: every statement as Bind/Execute of a prepared statement, each
//    statement prepared (Parse) in the same pipeline the first time this
//    session sees its text, then one Sync;
//  - collect: read results until the Sync answers (or, with before_sync,
//    until every statement has answered), sending a cancel request when a
//    stop is requested or cancel_at passes;
//  - recover: roll back an explicit transaction a failed statement left
//    aborted, so the session stays usable.
#include <algorithm>
#include <chrono>
#include <utility>

#include "baton/error.hpp"
#include "baton/kit/deadline.hpp"
#include "baton/kit/errors.hpp"
#include "connection.hpp"

namespace baton::postgres::detail {

PipelineResult Connection::run(const std::vector<Statement>& statements, Clock::time_point hard_deadline,
                               std::stop_token stop, Clock::time_point cancel_at, bool before_sync) {
  if (broken_) kit::raise(kit::Failure::unavailable, describe(), "connection is broken");
  const std::vector<Request> requests = send_statements(statements);
  send_sync(before_sync, hard_deadline);
  Bounds bounds{std::move(stop), cancel_at, hard_deadline};
  PipelineResult out;
  bool done = false;
  {
    // A stop request sends the cancel at once, from the requesting thread,
    // instead of when the reading thread's next poll wakes.
    std::stop_callback on_stop(bounds.stop, [this, &bounds]() noexcept { cancel_once(bounds); });
    done = collect_results(requests, bounds, before_sync, out);
  }
  if (bounds.cancel_sent) cancel_sent_ = true;
  if (done) return out;
  if (PQstatus(conn_) == CONNECTION_BAD) broken_ = true;
  recover_aborted_transaction(hard_deadline);
  return out;
}

// Queues every statement (libpq buffers them until the flush in send_sync).
std::vector<Connection::Request> Connection::send_statements(const std::vector<Statement>& statements) {
  std::vector<Request> requests;
  for (std::size_t i = 0; i < statements.size(); ++i) {
    const auto& st = statements[i];
    const std::string& name = prepared_name(st.sql, requests, i);
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const auto& p : st.params) {
      values.push_back(p.value ? p.value->data() : nullptr);
      lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
      formats.push_back(p.binary ? 1 : 0);
    }
    if (PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()), values.data(), lengths.data(),
                            formats.data(), 0) != 1) {
      fail("cannot send a statement");
    }
    requests.push_back({i, false, {}});
  }
  return requests;
}

// The name `sql` is prepared under on this session, queueing its Parse (and
// recording it in `requests`) the first time. A fresh name each time: a
// Parse lost in an aborted pipeline may or may not exist on the server.
const std::string& Connection::prepared_name(const std::string& sql, std::vector<Request>& requests,
                                             std::size_t statement) {
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) return it->second;
  const std::string name = "baton_" + std::to_string(next_prepared_++);
  if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) != 1) fail("cannot send a statement");
  requests.push_back({statement, true, sql});
  return prepared_.emplace(sql, name).first->second;
}

// Ends the pipeline with a Sync and sends everything queued. A flush
// request first (before_sync) makes the server send the results so far at
// once, instead of after the Sync's work.
void Connection::send_sync(bool before_sync, Clock::time_point hard_deadline) {
  if (before_sync && PQsendFlushRequest(conn_) != 1) fail("cannot send a flush request");
  if (PQpipelineSync(conn_) != 1) fail("cannot send a sync");
  ++pending_syncs_;
  for (;;) {
    const int flushed = PQflush(conn_);
    if (flushed == 0) return;
    if (flushed < 0) fail("cannot send");
    if (!wait_socket(true, hard_deadline) && Clock::now() >= hard_deadline) fail("server does not answer");
  }
}

// Reads results until this pipeline's Sync answers or the connection ends
// (false), or, with `before_sync`, until every statement has succeeded
// (true: the Sync's answer is left for the next run()).
bool Connection::collect_results(const std::vector<Request>& requests, Bounds& bounds, bool before_sync,
                                 PipelineResult& out) {
  std::size_t next = 0;  // the request whose results come next
  for (;;) {
    await_result(bounds);
    Result result(PQgetResult(conn_));
    if (!result) {
      // End of one request's results, or of the connection.
      if (PQstatus(conn_) == CONNECTION_BAD) {
        if (out.outcome == Outcome::ok) fail("connection lost");
        broken_ = true;
        return false;
      }
      ++next;
      if (before_sync && next == requests.size() && out.outcome == Outcome::ok) return true;
      continue;
    }
    if (PQresultStatus(result.get()) == PGRES_PIPELINE_SYNC) {
      // The oldest Sync answered; only the last one sent is this pipeline's.
      if (--pending_syncs_ > 0) continue;
      return false;
    }
    const Request* request = next < requests.size() ? &requests[next] : nullptr;
    if (!record_result(std::move(result), request, out)) return false;
  }
}

// Waits until libpq has a whole result to hand out. The first time a stop
// is requested or cancel_at passes, asks the server to cancel (the
// statement then fails with 57014); after that only the hard deadline
// bounds the wait, and passing it breaks the connection.
void Connection::await_result(Bounds& bounds) {
  while (PQisBusy(conn_)) {
    if (bounds.stop.stop_requested() || Clock::now() >= bounds.cancel_at) cancel_once(bounds);
    const auto until = bounds.cancel_sent ? bounds.hard_deadline : std::min(bounds.hard_deadline, bounds.cancel_at);
    if (!wait_socket(false, until)) {
      if (Clock::now() >= bounds.hard_deadline) fail("server does not answer");
      continue;
    }
    if (PQconsumeInput(conn_) != 1) fail("connection lost");
  }
}

void Connection::cancel_once(Bounds& bounds) noexcept {
  if (!bounds.cancel_sent.exchange(true)) cancel();
}

// Files one result of `request` into `out`: a statement's rows, or the
// first failure. A Parse that failed or was skipped never happened: its
// statement is forgotten, to be prepared again next time. False when the
// failure ended the connection (a FATAL: terminated session, shutdown),
// after which no Sync will come.
bool Connection::record_result(Result result, const Request* request, PipelineResult& out) {
  const auto status = PQresultStatus(result.get());
  const bool is_prepare = request != nullptr && request->prepare;
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
    if (!is_prepare) out.results.push_back(std::move(result));
    return true;
  }
  if (is_prepare) prepared_.erase(request->sql);
  // A request after a failed one was not run: nothing to report.
  if (status == PGRES_PIPELINE_ABORTED) return true;
  if (out.outcome == Outcome::ok) {
    const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    out.outcome = Outcome::failed;
    out.error_sqlstate = state ? state : "";
    out.error_message = PQresultErrorMessage(result.get());
  }
  if (PQstatus(conn_) == CONNECTION_BAD) {
    broken_ = true;
    return false;
  }
  return true;
}

// A failure inside BEGIN ... COMMIT leaves the session in an aborted
// transaction (the COMMIT was skipped): end it, or the session is useless.
// A session that cannot be recovered is marked broken, and its owner drops
// it.
void Connection::recover_aborted_transaction(Clock::time_point hard_deadline) {
  if (broken_ || PQtransactionStatus(conn_) != PQTRANS_INERROR) return;
  try {
    const auto bound = std::max(hard_deadline, kit::deadline_in(std::chrono::seconds(5)));
    if (run({Statement{"ROLLBACK", {}}}, bound).outcome != Outcome::ok) broken_ = true;
  } catch (const BackendUnavailable&) {
    broken_ = true;
  }
}

}  // namespace baton::postgres::detail
