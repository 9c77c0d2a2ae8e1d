// Opening a libpq connection, its socket waits, and the translation of
// SQLSTATEs into baton's errors. The pipeline itself is in pipeline.cpp.
#include "connection.hpp"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <system_error>
#include <thread>

#include "baton/error.hpp"
#include "baton/kit/errors.hpp"

namespace baton::postgres::detail {
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

namespace {

// Connection-class failures (08), resource shortages (53), and a server
// shutting down or not yet started (57P01-57P03): retrying later may work.
bool sqlstate_is_unavailable(const std::string& sqlstate) {
  const std::string cls = sqlstate.substr(0, 2);
  return sqlstate.empty() || cls == "08" || cls == "53" || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

}  // namespace

void raise_sqlstate(const std::string& context, const std::string& sqlstate, const std::string& message) {
  std::string text = trim(message) + (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")");
  if (sqlstate_is_unavailable(sqlstate)) kit::raise(kit::Failure::unavailable, context, text);
  // insufficient_privilege: say what to do about it.
  if (sqlstate == "42501") text += "; the role needs the privilege (see README, PostgreSQL section)";
  kit::raise(kit::Failure::error, context, text);
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
  if (raw == nullptr) kit::raise(kit::Failure::unavailable, "postgres", "out of memory starting a connection");
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
  conn->cancel_ = std::shared_ptr<PGcancel>(PQgetCancel(raw), [](PGcancel* c) {
    if (c != nullptr) PQfreeCancel(c);
  });
  return conn;
}

Connection::Connection(PGconn* conn) : conn_(conn) {}

Connection::~Connection() {
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
  kit::raise(kit::Failure::unavailable, describe(), what + (message.empty() ? "" : ": " + message));
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

namespace {

// Cancel requests still waiting for a server's answer. Past the cap no more
// are sent: the statement's hard deadline still ends the caller's wait, and
// a frozen server would only pile up threads.
std::atomic<int> cancels_in_flight{0};
constexpr int max_cancels_in_flight = 32;

}  // namespace

void Connection::cancel() noexcept {
  if (!cancel_ || cancels_in_flight.fetch_add(1) >= max_cancels_in_flight) {
    cancels_in_flight.fetch_sub(1);
    return;
  }
  try {
    std::thread([request = cancel_] {
      char err[256];
      PQcancel(request.get(), err, sizeof err);  // PQcancel may share a PGcancel across threads
      cancels_in_flight.fetch_sub(1);
    }).detach();
  } catch (const std::system_error&) {
    cancels_in_flight.fetch_sub(1);  // no thread to spare: the hard deadline still bounds the wait
  }
}

}  // namespace baton::postgres::detail
