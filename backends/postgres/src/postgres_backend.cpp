#include <openssl/evp.h>

#include <algorithm>
#include <limits>
#include <array>
#include <cmath>
#include <mutex>
#include <thread>
#include <vector>

#include "baton/config.hpp"
#include "baton/error.hpp"
#include "baton/name.hpp"
#include "baton/postgres.hpp"
#include "connection.hpp"

namespace baton::postgres {

std::int64_t advisory_key(std::string_view name) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(name.data(), name.size(), digest.data(), &length, EVP_sha1(), nullptr) != 1 || length < 8) {
    throw BackendError("postgres: SHA-1 failed");
  }
  std::uint64_t key = 0;
  for (int i = 0; i < 8; ++i) key = (key << 8) | digest[static_cast<std::size_t>(i)];
  return static_cast<std::int64_t>(key);  // two's complement, as py-postgresql-lock reads it
}

namespace {

using internal::Connection;
using internal::Outcome;
using internal::PipelineResult;
using internal::Statement;
using Param = Statement::Param;
using std::chrono::milliseconds;

Param text(std::string v) { return Param{std::move(v), false}; }
Param text(std::int64_t v) { return Param{std::to_string(v), false}; }
Param bytes(std::string_view v) { return Param{std::string(v), true}; }
Param null() { return Param{std::nullopt, false}; }

std::string quote_ident(const std::string& id) {
  std::string out = "\"";
  for (char c : id) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string field(const PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) ? std::string() : std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col));
}
std::int64_t field_int(const PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0 : std::stoll(PQgetvalue(r, row, col));
}

// `t + d`, pinned at the clock's end instead of overflowing (a far deadline
// from acquire_for(years) is legal).
Clock::time_point saturating_add(Clock::time_point t, milliseconds d) {
  return t > Clock::time_point::max() - d ? Clock::time_point::max() : t + d;
}

// Milliseconds as a GUC value string; "0" disables a timeout. Timeout GUCs
// stop at INT_MAX ms (24.8 days); anything longer is "none" on the server
// (a wait that long is still ended by the client's cancel request).
std::string guc_ms(milliseconds ms) {
  if (ms.count() > std::numeric_limits<std::int32_t>::max()) return "0";
  return std::to_string(std::max<std::int64_t>(ms.count(), 0));
}

// The SQL is fixed text; names and values only ever travel as parameters.
struct Sql {
  explicit Sql(const std::string& schema) {
    const std::string t = quote_ident(schema) + ".baton_locks";
    table = t;
    create = "CREATE TABLE IF NOT EXISTS " + t +
             " (name bytea PRIMARY KEY, lock_key bigint NOT NULL, token bigint NOT NULL, owner text, host text,"
             " pid bigint, backend_pid integer, acquired_at timestamptz, expires_at timestamptz)";
    const std::string upsert_tail =
        " ON CONFLICT (name) DO UPDATE SET token = l.token + 1, lock_key = EXCLUDED.lock_key,"
        " owner = EXCLUDED.owner, host = EXCLUDED.host, pid = EXCLUDED.pid, backend_pid = EXCLUDED.backend_pid,"
        " acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at RETURNING l.token";
    const std::string upsert_head =
        "INSERT INTO " + t +
        " AS l (name, lock_key, token, owner, host, pid, backend_pid, acquired_at, expires_at)"
        " SELECT $1::bytea, $2::bigint, 1, $3, $4, $5::bigint, pg_backend_pid(), clock_timestamp(),"
        " clock_timestamp() + $6::bigint * interval '1 millisecond' ";
    // The lock is taken in the FROM clause, so the row is written only once
    // it is granted, in the same statement (one round trip). The session's
    // timeouts are set in that same select list, left of the lock, so they
    // are in force when its wait begins (the server evaluates a select list
    // in order, and keeps volatile outputs a query does not read) without a
    // statement of their own: $7 lock_timeout, $8 idle_session_timeout.
    const std::string timeouts =
        "set_config('lock_timeout', $7, false) AS lt, set_config('idle_session_timeout', $8, false) AS it, ";
    acquire = upsert_head + "FROM (SELECT " + timeouts + "pg_advisory_lock($2::bigint)) AS g" + upsert_tail;
    try_acquire = upsert_head + "FROM (SELECT " + timeouts + "pg_try_advisory_lock($2::bigint) AS ok) AS g WHERE g.ok" +
                  upsert_tail;
    renew = "WITH u AS (UPDATE " + t +
            " SET expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond'"
            " WHERE name = $1::bytea AND token = $2::bigint AND backend_pid = pg_backend_pid() RETURNING 1)"
            " SELECT (SELECT count(*) FROM u), set_config('idle_session_timeout', $4, false)";
    const std::string holder_cols =
        "l.token, l.owner, l.host, l.pid, floor(extract(epoch FROM l.acquired_at) * 1000)::bigint,"
        " CASE WHEN l.expires_at IS NULL THEN NULL ELSE greatest(0, floor(extract(epoch FROM"
        " (l.expires_at - clock_timestamp())) * 1000))::bigint END";
    const std::string waiters = "(SELECT count(*) FROM pg_locks w WHERE NOT w.granted AND " +
                                advisory("w") + "l.lock_key)";
    // Held means: the advisory lock is granted to the very session the row
    // names, so a crashed holder's stale row never shows as held.
    // The last column tells a grant that is not visible yet from a free
    // lock: NULL when no session holds the key, true when the one that does
    // is inside its acquire (it holds a write lock on the table: the row
    // naming it is not committed yet), false for any other session (one
    // that took the key by hand). $3: the table.
    inspect = "SELECT " + holder_cols + ", (SELECT count(*) FROM pg_locks w WHERE NOT w.granted AND " +
              advisory("w") + "$2::bigint), (SELECT bool_or(r.relation IS NOT NULL) FROM pg_locks g" +
              " LEFT JOIN pg_locks r ON r.pid = g.pid AND r.granted AND r.locktype = 'relation' AND" +
              " r.relation = $3::regclass AND r.mode = 'RowExclusiveLock' WHERE g.granted AND " + advisory("g") +
              "$2::bigint) FROM (SELECT 1) AS one LEFT JOIN (" + t +
              " l JOIN pg_locks h ON h.pid = l.backend_pid AND h.granted AND " + advisory("h") +
              "l.lock_key) ON l.name = $1::bytea";
    // Every name whose key is held; the last column says whether the row
    // names the holder (false: taken by hand, holder unknown).
    list = "SELECT DISTINCT ON (l.name) l.name, " + holder_cols + ", " + waiters +
           ", h.pid = l.backend_pid FROM " + t + " l JOIN pg_locks h ON h.granted AND " + advisory("h") +
           "l.lock_key ORDER BY l.name, h.pid = l.backend_pid DESC";
    // Keys granted to a session inside its acquire: it holds a write lock
    // on the table and no committed row names it yet. $1: the table.
    in_flight = "SELECT count(*) FROM pg_locks g JOIN pg_locks r ON r.pid = g.pid AND r.granted AND"
                " r.locktype = 'relation' AND r.relation = $1::regclass AND r.mode = 'RowExclusiveLock'"
                " WHERE g.granted AND g.locktype = 'advisory' AND g.objsubid = 1 AND g.database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database()) AND NOT EXISTS (SELECT 1 FROM " +
                t + " l WHERE l.backend_pid = g.pid AND " + advisory("g") + "l.lock_key)";
    clear = "SELECT pg_terminate_backend(h.pid, 5000) FROM " + t +
            " l JOIN pg_locks h ON h.pid = l.backend_pid AND h.granted AND " + advisory("h") +
            "l.lock_key WHERE l.name = $1::bytea";
  }

  // "<alias> is an advisory lock in this database whose 64-bit key = ".
  static std::string advisory(const std::string& a) {
    return a + ".locktype = 'advisory' AND " + a + ".objsubid = 1 AND " + a +
           ".database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND ((" + a +
           ".classid::bigint << 32) | " + a + ".objid::bigint) = ";
  }

  std::string table, create, acquire, try_acquire, renew, inspect, list, in_flight, clear;
};

class PgBackend;

class PgLock final : public BackendLock {
 public:
  PgLock(std::shared_ptr<PgBackend> backend, std::string name, Owner owner)
      : backend_(std::move(backend)), name_(std::move(name)), key_(advisory_key(name_)), owner_(std::move(owner)) {}
  ~PgLock() override;

  std::optional<std::uint64_t> acquire(Clock::time_point deadline, milliseconds ttl, std::stop_token stop) override;
  std::optional<std::uint64_t> try_acquire(milliseconds ttl) override;
  bool renew(milliseconds ttl) override;
  bool release() override;

 private:
  std::optional<std::uint64_t> take(bool wait, Clock::time_point deadline, milliseconds ttl, std::stop_token stop);
  std::optional<std::uint64_t> take_once(bool wait, Clock::time_point deadline, milliseconds ttl,
                                         std::stop_token stop);
  std::vector<Param> upsert_params(milliseconds ttl) const;
  void give_back();

  std::shared_ptr<PgBackend> backend_;
  const std::string name_;
  const std::int64_t key_;
  const Owner owner_;
  std::unique_ptr<Connection> conn_;  // while waiting or holding
  std::uint64_t token_ = 0;
};

class PgBackend final : public Backend {
 public:
  explicit PgBackend(Options options) : options_(std::move(options)), sql_(options_.schema) {
    params_ = {{"dbname", options_.dsn},
               {"fallback_application_name", "baton"},
               // Whole seconds, at least 2: only a backstop for our own bound.
               {"connect_timeout", std::to_string(std::max<std::int64_t>(
                                       2, (options_.connect_timeout.count() + 999) / 1000))},
               {"keepalives", "1"},
               {"keepalives_idle", "10"},
               {"keepalives_interval", "3"},
               {"keepalives_count", "3"}};
  }

  std::string_view kind() const noexcept override { return "postgres"; }

  std::unique_ptr<BackendLock> open(std::string_view name, const Owner& owner) override {
    return std::make_unique<PgLock>(std::static_pointer_cast<PgBackend>(shared_from_this()), std::string(name),
                                    owner);
  }

  // The acquire statement takes the key, then writes the row naming its
  // session, and commits (server-side, without a round trip). In between, a
  // snapshot sees the key granted but no row for it: that grant is looked at
  // again until it is committed, so a held lock is never reported free.
  // pg_locks is read after the statement's snapshot is taken, so one query
  // can see the old row and yet a key whose holder has committed meanwhile
  // (its table lock gone): a key held with no row is believed only when a
  // second query, whose snapshot follows that commit, still finds no row.
  LockInfo inspect(std::string_view name) override {
    const auto deadline = command_deadline();
    bool seen_without_row = false;
    for (auto pause = milliseconds(1);; pause = std::min(pause * 2, milliseconds(20))) {
      auto r = admin({Statement{sql_.inspect, {bytes(name), text(advisory_key(name)), text(sql_.table)}}}, "inspect");
      LockInfo info;
      info.name = name;
      const PGresult* res = r.results.at(0).get();
      if (PQntuples(res) < 1) return info;
      fill(info, res, 0, 0);
      info.waiters = static_cast<std::size_t>(field_int(res, 0, 6));
      const bool key_held = !PQgetisnull(res, 0, 7);
      const bool committing = key_held && field(res, 0, 7) == "t";
      if (info.held || !key_held) return info;
      if (!committing && !seen_without_row) {
        seen_without_row = true;
        continue;
      }
      if (!committing || Clock::now() + pause >= deadline) {
        // Held by a session without a baton row (or one that takes too long
        // to commit it): held, by whom unknown.
        info.held = true;
        return info;
      }
      std::this_thread::sleep_for(pause);
    }
  }

  // As inspect(), list() waits out grants being committed. The in-flight
  // count is read first: a grant it misses committed before the list's
  // snapshot was taken, so the list sees its row (a new name included).
  std::vector<LockInfo> list() override {
    const auto deadline = command_deadline();
    for (auto pause = milliseconds(1);; pause = std::min(pause * 2, milliseconds(20))) {
      auto r = admin({Statement{sql_.in_flight, {text(sql_.table)}}, Statement{sql_.list, {}}}, "list");
      const bool settled = field_int(r.results.at(0).get(), 0, 0) == 0;
      if (settled || Clock::now() + pause >= deadline) return list_rows(r.results.at(1).get());
      std::this_thread::sleep_for(pause);
    }
  }

  bool clear(std::string_view name) override {
    auto r = admin({Statement{sql_.clear, {bytes(name)}}}, "clear");
    const PGresult* res = r.results.at(0).get();
    bool cleared = false;
    for (int i = 0; i < PQntuples(res); ++i) cleared = cleared || field(res, i, 0) == "t";
    return cleared;
  }

  // A connection from the pool, or a new one (set up, schema ensured).
  std::unique_ptr<Connection> checkout() {
    {
      std::lock_guard lock(pool_mu_);
      while (!pool_.empty()) {
        auto c = std::move(pool_.back());
        pool_.pop_back();
        if (!c->broken()) return c;
      }
    }
    return connect();
  }

  void checkin(std::unique_ptr<Connection> c) {
    if (!c || c->broken()) return;
    std::lock_guard lock(pool_mu_);
    if (pool_.size() < pool_size()) pool_.push_back(std::move(c));
  }

  Clock::time_point command_deadline() const { return Clock::now() + command_timeout(); }
  milliseconds command_timeout() const {
    return options_.command_timeout > milliseconds::zero() ? options_.command_timeout : std::chrono::seconds(5);
  }
  milliseconds connect_timeout() const {
    return options_.connect_timeout > milliseconds::zero() ? options_.connect_timeout : std::chrono::seconds(5);
  }
  const Sql& sql() const { return sql_; }

 private:
  std::size_t pool_size() const { return options_.pool_size > 0 ? options_.pool_size : 8; }

  std::unique_ptr<Connection> connect() {
    const auto timeout =
        options_.connect_timeout > milliseconds::zero() ? options_.connect_timeout : std::chrono::seconds(5);
    auto c = Connection::open(params_, Clock::now() + timeout);
    const auto check = options_.client_check_interval > milliseconds::zero() ? options_.client_check_interval
                                                                             : std::chrono::seconds(1);
    // Reset what a role or database default might have set: an idle
    // timeout on a pooled session would kill it, a statement timeout would
    // cut a long wait short.
    auto r = c->run({Statement{"SELECT set_config('client_connection_check_interval', $1, false),"
                               " set_config('idle_session_timeout', '0', false),"
                               " set_config('statement_timeout', '0', false),"
                               " set_config('lock_timeout', '0', false)",
                               {text(guc_ms(check))}}},
                    command_deadline());
    if (r.outcome != Outcome::ok) internal::throw_sqlstate(c->describe() + ": setup", r.error_sqlstate, r.error_message);
    ensure_schema(*c);
    return c;
  }

  void ensure_schema(Connection& c) {
    std::lock_guard lock(schema_mu_);
    if (schema_ready_) return;
    auto exists = c.run({Statement{"SELECT to_regclass($1) IS NOT NULL", {text(sql_.table)}}}, command_deadline());
    if (exists.outcome != Outcome::ok) {
      internal::throw_sqlstate(c.describe() + ": checking the baton_locks table", exists.error_sqlstate,
                               exists.error_message);
    }
    if (field(exists.results.at(0).get(), 0, 0) != "t") {
      // Serialized by a transaction-level advisory lock: concurrent
      // CREATE ... IF NOT EXISTS can still collide in the catalogs.
      auto r = c.run({Statement{"SELECT pg_advisory_xact_lock($1::bigint)", {text(advisory_key("__baton.schema"))}},
                      Statement{"CREATE SCHEMA IF NOT EXISTS " + quote_ident(options_.schema), {}},
                      Statement{sql_.create, {}}},
                     command_deadline());
      if (r.outcome != Outcome::ok) {
        internal::throw_sqlstate(c.describe() + ": creating " + sql_.table, r.error_sqlstate, r.error_message);
      }
    }
    schema_ready_ = true;
  }

  // Runs statements on the shared admin connection, reconnecting once if it
  // broke since the last use.
  PipelineResult admin(const std::vector<Statement>& statements, const char* what) {
    std::lock_guard lock(admin_mu_);
    for (int attempt = 0;; ++attempt) {
      if (!admin_ || admin_->broken()) admin_ = connect();
      try {
        auto r = admin_->run(statements, command_deadline());
        if (r.outcome != Outcome::ok) {
          internal::throw_sqlstate(admin_->describe() + ": " + what, r.error_sqlstate, r.error_message);
        }
        return r;
      } catch (const BackendUnavailable&) {
        if (attempt > 0 || !admin_->broken()) throw;
      }
    }
  }

  static std::vector<LockInfo> list_rows(const PGresult* res) {
    std::vector<LockInfo> out;
    for (int i = 0; i < PQntuples(res); ++i) {
      LockInfo info;
      std::size_t len = 0;
      unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(res, i, 0)), &len);
      if (raw == nullptr) throw BackendError("postgres: cannot decode a lock name");
      info.name.assign(reinterpret_cast<const char*>(raw), len);
      PQfreemem(raw);
      if (field(res, i, 8) == "t") fill(info, res, i, 1);
      info.held = true;
      info.waiters = static_cast<std::size_t>(field_int(res, i, 7));
      out.push_back(std::move(info));
    }
    return out;
  }

  static void fill(LockInfo& info, const PGresult* r, int row, int col) {
    if (PQgetisnull(r, row, col)) return;
    info.held = true;
    info.token = static_cast<std::uint64_t>(field_int(r, row, col));
    info.owner = field(r, row, col + 1);
    info.host = field(r, row, col + 2);
    info.pid = field_int(r, row, col + 3);
    info.acquired_at = std::chrono::system_clock::time_point(milliseconds(field_int(r, row, col + 4)));
    info.expires_in = PQgetisnull(r, row, col + 5) ? forever : milliseconds(field_int(r, row, col + 5));
  }

  const Options options_;
  const Sql sql_;
  std::vector<std::pair<std::string, std::string>> params_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> pool_;
  std::mutex admin_mu_;
  std::unique_ptr<Connection> admin_;
  std::mutex schema_mu_;
  bool schema_ready_ = false;
};

PgLock::~PgLock() = default;

std::vector<Param> PgLock::upsert_params(milliseconds ttl) const {
  return {bytes(name_), text(key_), text(owner_.id), text(owner_.host), text(owner_.pid),
          ttl == forever ? null() : text(static_cast<std::int64_t>(ttl.count()))};
}

std::optional<std::uint64_t> PgLock::acquire(Clock::time_point deadline, milliseconds ttl, std::stop_token stop) {
  return take(true, deadline, ttl, std::move(stop));
}

std::optional<std::uint64_t> PgLock::try_acquire(milliseconds ttl) {
  return take(false, Clock::time_point::max(), ttl, {});
}

// A waiter whose session is lost mid-wait (server restart, connection killed
// by a proxy, a stale pooled connection) had its place in the server's queue
// taken away with the session: it reconnects and queues again until its
// deadline, giving up with BackendUnavailable only when the server stays
// unreachable for a whole connect timeout. (Found by tests/faults
// postgres.server_restart: before, the waiter failed at once with exit 69.)
// A server that cannot be reached at the first attempt still fails at once.
std::optional<std::uint64_t> PgLock::take(bool wait, Clock::time_point deadline, milliseconds ttl,
                                          std::stop_token stop) {
  Clock::time_point give_up = Clock::time_point::min();
  for (;;) {
    bool connected = false;
    try {
      if (!conn_) conn_ = backend_->checkout();
      connected = true;
      return take_once(wait, deadline, ttl, stop);
    } catch (const BackendUnavailable&) {
      conn_.reset();
      const auto now = Clock::now();
      if (!wait || stop.stop_requested()) throw;
      if (connected && give_up == Clock::time_point::min()) give_up = saturating_add(now, backend_->connect_timeout());
      if (now >= give_up || now >= deadline) throw;
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(100), deadline - Clock::now()));
  }
}

std::optional<std::uint64_t> PgLock::take_once(bool wait, Clock::time_point deadline, milliseconds ttl,
                                               std::stop_token stop) {
  if (!conn_) conn_ = backend_->checkout();
  const bool bounded = deadline != Clock::time_point::max();
  milliseconds lock_timeout{0};
  if (wait && bounded) {
    lock_timeout = std::max(milliseconds(1), std::chrono::ceil<milliseconds>(deadline - Clock::now()));
  }
  const milliseconds idle = ttl == forever ? milliseconds(0) : ttl;
  // An explicit transaction, so the grant's reply leaves the server the
  // moment COMMIT has made the token durable, before the server's idle-time
  // work (statistics, ReadyForQuery) that run(before_sync) does not wait for.
  auto params = upsert_params(ttl);
  params.push_back(text(guc_ms(lock_timeout)));
  params.push_back(text(guc_ms(idle)));
  std::vector<Statement> statements{
      Statement{"BEGIN", {}},
      Statement{wait ? backend_->sql().acquire : backend_->sql().try_acquire, std::move(params)},
      Statement{"COMMIT", {}}};
  // lock_timeout ends the wait on the server; the client-side cancel and
  // hard deadline are only backstops for a server that stops answering.
  Clock::time_point cancel_at = Clock::time_point::max();
  Clock::time_point hard = Clock::time_point::max();  // an unbounded wait may take forever
  if (!wait) {
    hard = backend_->command_deadline();
  } else if (bounded) {
    cancel_at = saturating_add(deadline, milliseconds(200));
    hard = saturating_add(deadline, backend_->command_timeout());
  }
  PipelineResult r;
  try {
    r = conn_->run(statements, hard, stop, cancel_at, /*before_sync=*/true);
  } catch (const BackendUnavailable&) {
    conn_.reset();
    throw;
  }
  if (r.outcome == Outcome::failed) {
    // 55P03: lock_timeout; 57014: cancelled (stop request). Both are
    // contention, not failure; the wait left the server's queue.
    if (r.error_sqlstate == "55P03" || r.error_sqlstate == "57014") {
      give_back();
      return std::nullopt;
    }
    // Anything else may have struck after the advisory lock was granted (it
    // outlives the rolled-back statement): drop the session to free it.
    const auto context = conn_->describe() + ": acquiring";
    conn_.reset();
    internal::throw_sqlstate(context, r.error_sqlstate, r.error_message);
  }
  const PGresult* res = r.results.at(1).get();
  if (PQntuples(res) != 1) {  // try_acquire found it taken
    give_back();
    return std::nullopt;
  }
  token_ = static_cast<std::uint64_t>(field_int(res, 0, 0));
  return token_;
}

bool PgLock::renew(milliseconds ttl) {
  if (!conn_) return false;
  const milliseconds idle = ttl == forever ? milliseconds(0) : ttl;
  try {
    auto r = conn_->run({Statement{backend_->sql().renew,
                                   {bytes(name_), text(static_cast<std::int64_t>(token_)),
                                    ttl == forever ? null() : text(static_cast<std::int64_t>(ttl.count())),
                                    text(guc_ms(idle))}}},
                        backend_->command_deadline());
    if (r.outcome == Outcome::ok && field(r.results.at(0).get(), 0, 0) == "1") return true;
    if (r.outcome == Outcome::failed && !conn_->broken()) {
      // The session is alive but the statement failed (e.g. the table was
      // dropped): the lock may still be held, so end the session to be sure
      // nobody is blocked by a grant we report lost.
      conn_.reset();
      return false;
    }
  } catch (const BackendUnavailable&) {
    // The session is gone (terminated by clear(), idle timeout, server
    // restart) or unreachable; either way the server frees the lock.
  }
  conn_.reset();
  return false;
}

bool PgLock::release() {
  if (!conn_) return false;
  // Only the advisory lock is let go: the row may keep naming this session,
  // because inspect() and list() trust a row only while pg_locks shows its
  // key granted to that very session.
  try {
    auto r = conn_->run({Statement{"SELECT pg_advisory_unlock($1::bigint), set_config('idle_session_timeout', '0', false)",
                                   {text(key_)}}},
                        backend_->command_deadline());
    if (r.outcome == Outcome::ok) {
      const bool unlocked = field(r.results.at(0).get(), 0, 0) == "t";
      give_back();
      return unlocked;
    }
  } catch (const BackendUnavailable&) {
  }
  conn_.reset();
  return false;
}

void PgLock::give_back() { backend_->checkin(std::move(conn_)); }

}  // namespace

std::shared_ptr<Backend> make_backend(const Options& options) {
  if (options.schema.empty() || options.schema.size() > 63 || options.schema.find('\0') != std::string::npos) {
    throw ConfigError("postgres.schema", "must be 1 to 63 bytes, without NUL");
  }
  return std::make_shared<PgBackend>(options);
}

Options options_from_config(const nlohmann::json& section) {
  ConfigSection s(section, "postgres");
  Options o;
  auto dsn = s.string("dsn");
  if (!dsn || dsn->empty()) throw ConfigError("postgres.dsn", "is required (a libpq connection string or URI)");
  o.dsn = *dsn;
  o.schema = s.string("schema", o.schema);
  if (auto v = s.milliseconds("connect_timeout_ms", milliseconds(1), std::chrono::minutes(10))) o.connect_timeout = *v;
  if (auto v = s.milliseconds("command_timeout_ms", milliseconds(1), std::chrono::minutes(10))) o.command_timeout = *v;
  if (auto v = s.milliseconds("client_check_ms", milliseconds(1), std::chrono::minutes(10))) o.client_check_interval = *v;
  if (auto v = s.integer("pool_size", 1, 1024)) o.pool_size = static_cast<unsigned>(*v);
  s.finish();
  if (o.schema.empty() || o.schema.size() > 63) throw ConfigError("postgres.schema", "must be 1 to 63 bytes");
  return o;
}

void register_backend(Registry& registry) {
  registry.add("postgres", [](const nlohmann::json& section) { return make_backend(options_from_config(section)); });
}

}  // namespace baton::postgres
