// The PostgreSQL backend (docs/design.md §4): configuration, sessions, the
// schema, and inspect/list/clear. The lock's side is postgres_lock.cpp.
#include "postgres_backend.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <thread>

#include "baton/config.hpp"
#include "baton/kit/connection_keys.hpp"
#include "baton/error.hpp"
#include "baton/kit/deadline.hpp"
#include "baton/kit/defaults.hpp"
#include "baton/kit/registration.hpp"
#include "values.hpp"

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

namespace detail {

namespace {

using std::chrono::milliseconds;

// client_connection_check_interval when Options leaves it zero (§4.5).
constexpr milliseconds default_client_check_interval = std::chrono::seconds(1);

// libpq's keywords for `options`. libpq's connect_timeout is whole seconds,
// at least 2: only a backstop for the exact bound Connection::open keeps.
std::vector<std::pair<std::string, std::string>> connect_params(const Options& options) {
  const auto connect_timeout = kit::or_default(options.connect_timeout, kit::default_connect_timeout);
  return {{"dbname", options.dsn},
          {"fallback_application_name", "baton"},
          {"connect_timeout", std::to_string(std::max<std::int64_t>(2, (connect_timeout.count() + 999) / 1000))},
          {"keepalives", "1"},
          {"keepalives_idle", "10"},
          {"keepalives_interval", "3"},
          {"keepalives_count", "3"}};
}

// The holder's columns of an inspect or list row, from `col` on (see
// sql.cpp's holder_columns); a NULL token means not held.
void fill_holder(LockInfo& info, const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return;
  info.held = true;
  info.token = static_cast<std::uint64_t>(field_int(r, row, col));
  info.owner = field(r, row, col + 1);
  info.host = field(r, row, col + 2);
  info.pid = field_int(r, row, col + 3);
  info.acquired_at = std::chrono::system_clock::time_point(milliseconds(field_int(r, row, col + 4)));
  info.expires_in = PQgetisnull(r, row, col + 5) ? forever : milliseconds(field_int(r, row, col + 5));
}

// A bytea field (the lock name) as raw bytes.
std::string bytea_field(const PGresult* r, int row, int col) {
  std::size_t len = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col)), &len);
  if (raw == nullptr) throw BackendError("postgres: cannot decode a lock name");
  std::string out(reinterpret_cast<const char*>(raw), len);
  PQfreemem(raw);
  return out;
}

std::vector<LockInfo> list_rows(const PGresult* res) {
  std::vector<LockInfo> out;
  for (int i = 0; i < PQntuples(res); ++i) {
    LockInfo info;
    info.name = bytea_field(res, i, 0);
    if (field(res, i, 8) == "t") fill_holder(info, res, i, 1);
    info.held = true;
    info.waiters = static_cast<std::size_t>(field_int(res, i, 7));
    out.push_back(std::move(info));
  }
  return out;
}

// The pause between two looks at a grant still being committed.
milliseconds next_pause(milliseconds pause) { return std::min(pause * 2, milliseconds(20)); }

}  // namespace

PostgresBackend::PostgresBackend(Options options)
    : options_(std::move(options)),
      sql_(options_.schema),
      connect_params_(connect_params(options_)),
      pool_(kit::or_default(options_.pool_size, kit::default_pool_size), [this] { return connect(); },
            [](const Connection& c) { return c.broken() || c.cancel_sent(); }) {}

std::unique_ptr<BackendLock> PostgresBackend::open(std::string_view name, const Owner& owner) {
  return std::make_unique<PostgresLock>(std::static_pointer_cast<PostgresBackend>(shared_from_this()),
                                        std::string(name), owner);
}

// The acquire statement takes the key, then writes the row naming its
// session, and commits (server-side, without a round trip). In between, a
// snapshot sees the key granted but no row for it: that grant is looked at
// again until it is committed, so a held lock is never reported free.
// pg_locks is read after the statement's snapshot is taken, so one query
// can see the old row and yet a key whose holder has committed meanwhile
// (its table lock gone): a key held with no row is believed only when a
// second query, whose snapshot follows that commit, still finds no row.
LockInfo PostgresBackend::inspect(std::string_view name) {
  const auto deadline = command_deadline();
  bool seen_without_row = false;
  for (auto pause = milliseconds(1);; pause = next_pause(pause)) {
    auto r = admin({Statement{sql_.inspect, {bytes(name), text(advisory_key(name)), text(sql_.table)}}}, "inspect");
    LockInfo info;
    info.name = name;
    const PGresult* res = r.results.at(0).get();
    if (PQntuples(res) < 1) return info;
    fill_holder(info, res, 0, 0);
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
std::vector<LockInfo> PostgresBackend::list() {
  const auto deadline = command_deadline();
  for (auto pause = milliseconds(1);; pause = next_pause(pause)) {
    auto r = admin({Statement{sql_.in_flight, {text(sql_.table)}}, Statement{sql_.list, {}}}, "list");
    const bool settled = field_int(r.results.at(0).get(), 0, 0) == 0;
    if (settled || Clock::now() + pause >= deadline) return list_rows(r.results.at(1).get());
    std::this_thread::sleep_for(pause);
  }
}

bool PostgresBackend::clear(std::string_view name) {
  auto r = admin({Statement{sql_.clear, {bytes(name)}}}, "clear");
  const PGresult* res = r.results.at(0).get();
  bool cleared = false;
  for (int i = 0; i < PQntuples(res); ++i) cleared = cleared || field(res, i, 0) == "t";
  return cleared;
}

Clock::time_point PostgresBackend::command_deadline() const { return kit::deadline_in(command_timeout()); }

milliseconds PostgresBackend::command_timeout() const {
  return kit::or_default(options_.command_timeout, kit::default_command_timeout);
}

milliseconds PostgresBackend::connect_timeout() const {
  return kit::or_default(options_.connect_timeout, kit::default_connect_timeout);
}

// A new session, with its timeouts reset (sql.hpp's session_setup_sql) and
// the schema ensured.
std::unique_ptr<Connection> PostgresBackend::connect() {
  auto c = Connection::open(connect_params_, kit::deadline_in(connect_timeout()));
  const auto check = kit::or_default(options_.client_check_interval, default_client_check_interval);
  auto r = c->run({Statement{session_setup_sql, {text(guc_ms(check))}}}, command_deadline());
  if (r.outcome != Outcome::ok) raise_sqlstate(c->describe() + ": setup", r.error_sqlstate, r.error_message);
  ensure_schema(*c);
  return c;
}

// Creates the schema and table once per backend, unless they exist.
// Concurrent CREATE ... IF NOT EXISTS can still collide in the catalogs, so
// creation is serialized by a transaction-level advisory lock.
void PostgresBackend::ensure_schema(Connection& c) {
  std::lock_guard lock(schema_mu_);
  if (schema_ready_) return;
  auto exists = c.run({Statement{"SELECT to_regclass($1) IS NOT NULL", {text(sql_.table)}}}, command_deadline());
  if (exists.outcome != Outcome::ok) {
    raise_sqlstate(c.describe() + ": checking the baton_locks table", exists.error_sqlstate, exists.error_message);
  }
  if (field(exists.results.at(0).get(), 0, 0) != "t") {
    auto r = c.run({Statement{"SELECT pg_advisory_xact_lock($1::bigint)", {text(advisory_key("__baton.schema"))}},
                    Statement{"CREATE SCHEMA IF NOT EXISTS " + quote_ident(options_.schema), {}},
                    Statement{sql_.create, {}}},
                   command_deadline());
    if (r.outcome != Outcome::ok) {
      raise_sqlstate(c.describe() + ": creating " + sql_.table, r.error_sqlstate, r.error_message);
    }
  }
  schema_ready_ = true;
}

// Runs statements on the shared admin session, reconnecting once if it
// broke since the last use.
PipelineResult PostgresBackend::admin(const std::vector<Statement>& statements, const char* what) {
  std::lock_guard lock(admin_mu_);
  for (int attempt = 0;; ++attempt) {
    if (!admin_ || admin_->broken()) admin_ = connect();
    try {
      auto r = admin_->run(statements, command_deadline());
      if (r.outcome != Outcome::ok) {
        raise_sqlstate(admin_->describe() + ": " + what, r.error_sqlstate, r.error_message);
      }
      return r;
    } catch (const BackendUnavailable&) {
      if (attempt > 0 || !admin_->broken()) throw;
    }
  }
}

}  // namespace detail

std::shared_ptr<Backend> make_backend(const Options& options) {
  if (options.schema.empty() || options.schema.size() > 63 || options.schema.find('\0') != std::string::npos) {
    throw ConfigError("postgres.schema", "must be 1 to 63 bytes, without NUL");
  }
  return std::make_shared<detail::PostgresBackend>(options);
}

Options options_from_config(const nlohmann::json& section) {
  using std::chrono::milliseconds;
  ConfigSection s(section, "postgres");
  Options o;
  auto dsn = s.string("dsn");
  if (!dsn || dsn->empty()) throw ConfigError("postgres.dsn", "is required (a libpq connection string or URI)");
  o.dsn = *dsn;
  o.schema = s.string("schema", o.schema);
  kit::read_connection_keys(s, o);
  if (auto v = s.milliseconds("client_check_ms", milliseconds(1), std::chrono::minutes(10))) o.client_check_interval = *v;
  s.finish();
  if (o.schema.empty() || o.schema.size() > 63) throw ConfigError("postgres.schema", "must be 1 to 63 bytes");
  return o;
}

namespace {

// A session's advisory locks end with it (docs/design.md §4.1), so a dead
// client's lock is free at once. Nothing listens on port 1, so a copy of
// the section aimed there is unreachable.
BackendTraits traits(const Options& options, const nlohmann::json& section) {
  BackendTraits t;
  t.frees_on_disconnect = true;
  t.unreachable_section = section;
  t.unreachable_section["dsn"] = "postgresql://postgres@127.0.0.1:1/baton_test";
  t.unreachable_bound = kit::or_default(options.connect_timeout, kit::default_connect_timeout) + std::chrono::seconds(5);
  return t;
}

}  // namespace

void register_backend(Registry& registry) {
  // The keys options_from_config() reads (docs/design.md §6.3).
  kit::register_backend(registry, "postgres", &options_from_config, &make_backend,
                        {{"dsn", "the server: a libpq URI or key=value string (required; use ${VAR} for the password)"},
                         {"schema", "schema of the baton_locks table, 1 to 63 bytes (default \"baton\")"},
                         {"connect_timeout_ms", "bound on opening a connection, 1 to 600000 (default 5000)"},
                         {"command_timeout_ms", "bound on a statement that does not wait for a lock (default 5000)"},
                         {"client_check_ms", "client_connection_check_interval of every session (default 1000)"},
                         {"pool_size", "idle connections kept for reuse, 1 to 1024 (default 8)"}},
                        &traits);
}

}  // namespace baton::postgres
