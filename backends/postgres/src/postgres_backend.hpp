// The PostgreSQL backend's two classes (docs/design.md §4): the backend,
// which owns the connection pool, the admin session and the SQL, and the
// lock, which owns the session it waits and holds on. Internal.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "baton/backend.hpp"
#include "baton/kit/connection_pool.hpp"
#include "baton/postgres.hpp"
#include "connection.hpp"
#include "sql.hpp"

namespace baton::postgres::detail {

// Thread-safe: any thread may call it, and it shares its pool and admin
// session between them.
class PostgresBackend final : public Backend {
 public:
  explicit PostgresBackend(Options options);

  std::string_view kind() const noexcept override { return "postgres"; }
  std::unique_ptr<BackendLock> open(std::string_view name, const Owner& owner) override;
  LockInfo inspect(std::string_view name) override;
  std::vector<LockInfo> list() override;
  bool clear(std::string_view name) override;

  // A pooled session, or a new one (set up, schema ensured).
  std::unique_ptr<Connection> take_connection() { return pool_.take(); }
  // Keeps `c` for reuse unless it is broken or the pool is full.
  void give_back(std::unique_ptr<Connection> c) { pool_.give_back(std::move(c)); }
  // Closes every idle session (one of them was found ended by the server).
  void drop_idle_connections() { pool_.clear(); }

  Clock::time_point command_deadline() const;
  std::chrono::milliseconds command_timeout() const;
  std::chrono::milliseconds connect_timeout() const;
  const Sql& sql() const { return sql_; }

 private:
  std::unique_ptr<Connection> connect();
  void ensure_schema(Connection& c);
  PipelineResult admin(const std::vector<Statement>& statements, const char* what);

  const Options options_;
  const Sql sql_;
  const std::vector<std::pair<std::string, std::string>> connect_params_;
  kit::ConnectionPool<Connection> pool_;
  std::mutex admin_mu_;
  std::unique_ptr<Connection> admin_;  // inspect, list and clear share it
  std::mutex schema_mu_;
  bool schema_ready_ = false;
};

// One Lock instance's side in PostgreSQL: a session of its own while it
// waits or holds (the server's queue is per session). Called from one
// thread at a time.
class PostgresLock final : public BackendLock {
 public:
  PostgresLock(std::shared_ptr<PostgresBackend> backend, std::string name, Owner owner);
  ~PostgresLock() override;

  std::optional<std::uint64_t> acquire(Clock::time_point deadline, std::chrono::milliseconds ttl,
                                       std::stop_token stop) override;
  std::optional<std::uint64_t> try_acquire(std::chrono::milliseconds ttl) override;
  bool renew(std::chrono::milliseconds ttl) override;
  bool release() override;

 private:
  // How one acquire waits: for the lock (wait) or not at all (try), and
  // until when.
  struct Attempt {
    bool wait;
    Clock::time_point deadline;
    std::chrono::milliseconds ttl;
    std::stop_token stop;
  };
  std::optional<std::uint64_t> take(const Attempt& attempt);
  std::optional<std::uint64_t> take_once(const Attempt& attempt);
  std::vector<Statement> acquire_statements(const Attempt& attempt) const;
  PipelineResult run_acquire(const Attempt& attempt);
  std::optional<std::uint64_t> acquire_outcome(const PipelineResult& r);
  void give_back();

  std::shared_ptr<PostgresBackend> backend_;
  const std::string name_;
  const std::int64_t key_;
  const Owner owner_;
  std::unique_ptr<Connection> conn_;  // while waiting or holding
  std::uint64_t token_ = 0;
};

}  // namespace baton::postgres::detail
