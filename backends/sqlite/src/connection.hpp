// connection.hpp: one sqlite3 connection with its cached statements and
// its busy policy, and Query, one execution of a cached statement. Private
// to the backend: sqlite3.h stays out of public headers.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "baton/options.hpp"
#include "host.hpp"
#include "sqlite_error.hpp"
#include "statements.hpp"
#include "wake_board.hpp"
#include "write_gate.hpp"

namespace baton::sqlite::detail {

class Connection;

// A prepared statement and its parameter indices, resolved once.
struct PreparedStatement {
  sqlite3_stmt* stmt = nullptr;
  ParamIndices params{};
};

// A cached statement borrowed for one execution: binds, steps and resets
// (so its read or write transaction ends) when it goes out of scope.
// Not copyable, not movable.
class Query {
 public:
  Query(Connection& conn, Statement statement);
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query();

  // Binding a parameter the statement does not take is a BackendError.
  Query& bind(Param param, std::int64_t value);
  Query& bind(Param param, std::optional<std::int64_t> value);  // nullopt: NULL
  // Not copied: `value` must stay alive until the Query is destroyed.
  Query& bind_text(Param param, std::string_view value);
  Query& bind_blob(Param param, std::string_view value);

  // Steps once: true with a row, false when done. Throws Busy or the
  // translated error.
  bool step();
  // Steps until done (for writes); returns sqlite3_changes().
  int run();

  bool is_null(int column) const;
  std::int64_t int64(int column) const;
  std::optional<std::int64_t> optional_int64(int column) const;
  std::string text(int column) const;
  std::string blob(int column) const;

 private:
  Query(Connection& conn, const PreparedStatement& prepared);
  int index(Param param) const noexcept;

  Connection& conn_;
  sqlite3_stmt* stmt_;
  const ParamIndices& params_;
};

// One open database connection. Used by one thread at a time (opened
// SQLITE_OPEN_NOMUTEX); the owner serializes. Not copyable, not movable.
class Connection {
 public:
  // `board` (may be null): where write transactions are announced and a
  // busy connection waits for the writer in its way (wake_board.hpp).
  // `gate` (may be null): where the process's write transactions line up
  // (write_gate.hpp).
  Connection(std::filesystem::path path, std::shared_ptr<const Identity> identity,
             std::chrono::milliseconds busy_timeout, std::shared_ptr<WakeBoard> board = nullptr,
             std::shared_ptr<WriteGate> gate = nullptr);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  const std::filesystem::path& path() const noexcept { return path_; }
  const Identity& identity() const noexcept { return *identity_; }
  sqlite3* handle() const noexcept { return db_; }

  // Runs `body` (which opens and ends its own transaction, if any) until it
  // gets through without SQLITE_BUSY. A busy database is waited out as long
  // as write transactions keep ending (other processes' baton writers
  // announce theirs on the wake board); one where none ends for the busy
  // timeout is wedged (then BackendUnavailable). Never beyond `deadline` or
  // a stop request (then Interrupted). Any transaction the body left open
  // is rolled back before the exception leaves.
  template <class F>
  auto run(F&& body, Clock::time_point deadline = Clock::time_point::max(),
           const std::stop_token* stop = nullptr) -> decltype(body()) {
    Limits scope(*this, deadline, stop);
    for (;;) {
      try {
        return body();
      } catch (const Busy& busy) {
        abandon_transaction();
        auto now = Clock::now();
        if (now >= deadline || (stop != nullptr && stop->stop_requested())) throw Interrupted{};
        if (stalled(now)) raise_busy(busy);
        retry_pause();
      } catch (...) {
        abandon_transaction();
        throw;
      }
    }
  }

  // A write transaction (BEGIN IMMEDIATE ... COMMIT) around `body`, retried
  // as run() says, after this connection's turn at the process's write gate
  // (a wait in line ends like run(): Interrupted, or BackendUnavailable when
  // nothing moved for the busy timeout).
  template <class F>
  auto write(F&& body, Clock::time_point deadline = Clock::time_point::max(),
             const std::stop_token* stop = nullptr) -> decltype(body()) {
    enter_gate(deadline, stop);
    GateTurn turn(gate_.get());
    if constexpr (std::is_void_v<decltype(body())>) {
      write_turn(body, deadline, stop);
      turn.wrote();
    } else {
      auto result = write_turn(body, deadline, stop);
      turn.wrote();
      return result;
    }
  }

 private:
  template <class F>
  auto write_turn(F& body, Clock::time_point deadline, const std::stop_token* stop) -> decltype(body()) {
    return run(
        [&] {
          if (board_) writes_seen_ = board_->writes_ended();
          Query(*this, Statement::begin_immediate).run();
          if constexpr (std::is_void_v<decltype(body())>) {
            body();
            commit();
          } else {
            auto result = body();
            commit();
            return result;
          }
        },
        deadline, stop);
  }

 public:
  // A read transaction (BEGIN ... COMMIT) around `body`, retried as run()
  // says: its statements see one snapshot, and the file locks a statement
  // takes and drops on its own (two fcntl() pairs) are taken once.
  template <class F>
  auto read(F&& body, Clock::time_point deadline = Clock::time_point::max(),
            const std::stop_token* stop = nullptr) -> decltype(body()) {
    return run(
        [&] {
          Query(*this, Statement::begin_read).run();
          auto result = body();
          Query(*this, Statement::commit).run();
          return result;
        },
        deadline, stop);
  }

  // `PRAGMA data_version`: changes whenever another connection commits.
  std::int64_t data_version();

  // Runs a multi-statement script (schema set-up). Throws like Query.
  void exec(const char* script);

  // Prepares `statements` now, those not prepared yet, so the calls that
  // run them later do not parse SQL on their critical path (a first release
  // would otherwise parse four statements while it holds the write lock). A
  // statement that fails to prepare is left for its first use to report.
  void prepare(std::initializer_list<Statement> statements) noexcept;
  // Throws Busy for BUSY/LOCKED, else the translated error.
  [[noreturn]] void fail(int rc, std::string_view doing);

 private:
  friend class Query;

  // Bounds the busy handler by the caller's deadline for the duration of one
  // run(); the outermost also starts the stall clock.
  class Limits {
   public:
    Limits(Connection& conn, Clock::time_point limit, const std::stop_token* stop);
    Limits(const Limits&) = delete;
    Limits& operator=(const Limits&) = delete;
    ~Limits();

   private:
    Connection& conn_;
    Clock::time_point saved_limit_;
    const std::stop_token* saved_stop_;
  };

  PreparedStatement& prepared(Statement statement);

  static int on_busy(void* self, int count);
  // The stall clock restarts when another baton writer committed since it
  // was last looked at; true once it ran for the busy timeout.
  bool stalled(Clock::time_point now) noexcept;
  void restart_stall_clock(Clock::time_point now) noexcept;
  // Throws Interrupted or BackendUnavailable unless admitted at the gate.
  void enter_gate(Clock::time_point deadline, const std::stop_token* stop);
  // COMMIT, announced on the board to connections waiting for the lock.
  void commit();
  void abandon_transaction() noexcept;
  [[noreturn]] void raise_busy(const Busy& busy) const;
  static void retry_pause();

  std::filesystem::path path_;
  std::shared_ptr<const Identity> identity_;
  std::chrono::milliseconds busy_timeout_;
  std::shared_ptr<WakeBoard> board_;
  std::shared_ptr<WriteGate> gate_;
  // board_->writes_ended() before the last attempt at the write lock.
  std::uint32_t writes_seen_ = 0;
  sqlite3* db_ = nullptr;
  std::array<PreparedStatement, statement_count> statements_{};
  Clock::time_point busy_limit_ = Clock::time_point::max();
  // Since when no write transaction ended, as far as this connection saw.
  Clock::time_point stalled_since_{};
  std::uint32_t progress_seen_ = 0;  // board_->writes_ended() then
  int run_depth_ = 0;
  const std::stop_token* busy_stop_ = nullptr;
};

}  // namespace baton::sqlite::detail
