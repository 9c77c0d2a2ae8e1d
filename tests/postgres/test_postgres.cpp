// PostgreSQL-specific behaviour, against the server $BATON_TEST_PG_DSN names
// (a superuser; scripts/test.sh starts a throwaway one). Holders that crash
// or hang are real `baton run` processes.
#include <catch2/catch.hpp>

#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string_view>
#include <thread>

#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "baton/postgres.hpp"
#include "catch_session.hpp"
#include "pg_session.hpp"
#include "test_support.hpp"

using namespace baton::test;
using baton::postgres::advisory_key;

namespace {

// The table and a free row for `name`, as a first grant and release leave
// them. Returns the name's advisory key as SQL text.
std::string make_row(baton::LockManager& m, const std::string& name) {
  auto lock = m.lock(name);
  REQUIRE(lock.try_acquire());
  lock.release();
  return std::to_string(advisory_key(name));
}

// A lock whose row a first grant made, and a plain session of our own
// holding its advisory key by hand (as baton never would).
struct KeyByHand {
  KeyByHand(baton::LockManager& m, const std::string& lock_name) : name(lock_name), key(make_row(m, name)) {
    REQUIRE(c.ok());
    REQUIRE(c.exec("SELECT pg_advisory_lock(" + key + ")"));
  }
  std::string name;
  std::string key;  // the name's advisory key as SQL text
  PlainSession c;
};

bool held(baton::LockManager& m, const std::string& name) { return m.inspect(name).held; }

std::string fresh(std::string_view tag) { return "pg-" + std::string(tag) + "-" + random_hex(); }

// `conn` (a URI or key=value DSN) with its sessions named `app` in
// pg_stat_activity, so a test can find, count or end its own sessions only.
std::string with_application_name(const std::string& conn, const std::string& app) {
  if (conn.find("://") == std::string::npos) return conn + " application_name=" + app;
  return conn + (conn.find('?') == std::string::npos ? "?" : "&") + "application_name=" + app;
}

// The FROM clause of the sessions named `app`.
std::string sessions_of(const std::string& app) {
  return "FROM pg_stat_activity WHERE application_name = '" + app + "'";
}

// A `baton run` holding `name` until killed, with its config in a temp dir
// of its own. The constructor returns once `m` sees the lock held.
struct CliHolder {
  CliHolder(baton::LockManager& m, const std::string& lock_name, const std::string& ttl_seconds)
      : name(lock_name),
        process({BATON_CLI_PATH, "--config", write_config(dir), "run", name, "--ttl", ttl_seconds, "--", "sleep", "60"},
                {}, dir / "cli.log") {
    REQUIRE(eventually(10s, [&] { return held(m, name); }));
  }

  static std::string write_config(const TempDir& dir) {
    const auto path = dir / "baton.json";
    write_file(path, R"({"backend":"postgres","postgres":{"dsn":")" + dsn() + R"("}})");
    return path.string();
  }
  TempDir dir;
  std::string name;
  Process process;
};

}  // namespace

TEST_CASE("advisory keys are py-postgresql-lock's: SHA-1 prefix, big-endian, signed") {
  CHECK(advisory_key("my-lock") == 4791209619368833285LL);
  CHECK(advisory_key("test") == -6248023315878667354LL);
  CHECK(advisory_key("my-lock") != advisory_key("my-lock "));
}

TEST_CASE("while `baton run my-lock` holds, pg_locks shows key 4791209619368833285") {
  auto m = manager();
  // A fixed name, whose key the check knows; make sure no other test holds it.
  REQUIRE(eventually(10s, [&] { return !held(m, "my-lock"); }));
  CliHolder holder(m, "my-lock", "30");
  CHECK(query_value("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND "
                    "((classid::bigint << 32) | objid::bigint) = 4791209619368833285") == "1");
  const auto info = m.inspect("my-lock");
  CHECK(info.pid == holder.process.pid());
  holder.process.signal(SIGTERM);
  CHECK(holder.process.wait_exit(10s).has_value());
  CHECK(eventually(5s, [&] { return !held(m, "my-lock"); }));
}

// A session's acquire takes the key, writes the row naming it and commits.
// Here a plain session stops in between (key taken, row written, not
// committed): inspect() must wait for the commit rather than report the
// lock free, and a key taken by hand, with no row, shows as held by nobody
// known.
TEST_CASE("inspect never reports a lock free while its grant is being committed") {
  auto m = manager();
  KeyByHand h(m, fresh("inflight"));
  const std::string& name = h.name;
  const std::string& key = h.key;
  auto exec = [&](const std::string& sql) { REQUIRE(h.c.exec(sql)); };
  auto info = m.inspect(name);
  CHECK(info.held);
  CHECK(info.token == 0);
  CHECK(info.owner.empty());
  bool listed = false;
  for (auto& l : m.list()) {
    if (l.name == name) listed = l.held && l.owner.empty() && l.token == 0;
  }
  CHECK(listed);

  exec("BEGIN");
  exec("UPDATE baton.baton_locks SET token = token + 1, owner = 'by-hand', pid = 4242,"
       " backend_pid = pg_backend_pid(), expires_at = NULL WHERE lock_key = " + key);
  std::atomic<bool> committed{false};
  std::jthread committer([&] {  // no Catch2 assertions off the main thread
    std::this_thread::sleep_for(300ms);
    committed = h.c.exec("COMMIT");
  });
  const auto t0 = std::chrono::steady_clock::now();
  info = m.inspect(name);
  CHECK(ms_since(t0).count() >= 250);
  CHECK(info.held);
  CHECK(info.owner == "by-hand");
  CHECK(info.pid == 4242);
  committer.join();
  CHECK(committed);
  exec("SELECT pg_advisory_unlock(" + key + ")");
  CHECK_FALSE(m.inspect(name).held);
}

// inspect() reads the table under its statement's snapshot but pg_locks
// live, a little later: a commit landing between the two must not show a
// by-hand-looking holder (key held, table lock gone, new row not visible).
// Each round hands the key's row to the plain session and commits it at a random
// moment while inspect() and list() run back to back: every answer must
// name round i.
TEST_CASE("inspect and list name the holder whose grant commits during the call") {
  auto m = manager();
  KeyByHand h(m, fresh("commit-race"));
  const std::string& name = h.name;
  const std::string& key = h.key;
  auto exec = [&](const std::string& sql) { return h.c.exec(sql); };
  int wrong = 0;
  std::string wrong_answers;
  for (int i = 1; i <= 150; ++i) {
    // Committed: no row names the plain session, so the key looks taken by hand.
    REQUIRE(exec("UPDATE baton.baton_locks SET backend_pid = 0 WHERE lock_key = " + key));
    REQUIRE(exec("BEGIN"));
    REQUIRE(exec("UPDATE baton.baton_locks SET owner = 'round', pid = " + std::to_string(i) +
                 ", backend_pid = pg_backend_pid(), expires_at = NULL WHERE lock_key = " + key));
    std::atomic<bool> committed{false};
    std::atomic<bool> ok{false};
    std::jthread committer([&, i] {  // no Catch2 assertions off the main thread
      std::this_thread::sleep_for(std::chrono::microseconds(200 + (i * 37) % 1800));
      ok = exec("COMMIT");
      committed = true;
    });
    // Three answers after the commit, so some straddle it.
    for (int after = 0, call = 0; after < 3; ++call) {
      const bool done = committed;
      baton::LockInfo info;
      if (call % 2 == (i % 2)) {
        info = m.inspect(name);
      } else {
        for (auto& l : m.list()) {
          if (l.name == name) info = l;
        }
      }
      if (!info.held || info.pid != i) {
        ++wrong;
        wrong_answers += "round " + std::to_string(i) + ": held " + std::to_string(info.held) + ", pid " +
                         std::to_string(info.pid) + "\n";
      }
      if (done) ++after;
    }
    committer.join();
    REQUIRE(ok);
  }
  INFO(wrong_answers);
  CHECK(wrong == 0);
  exec("SELECT pg_advisory_unlock(" + key + ")");
}

TEST_CASE("a try_acquire that finds the lock taken leaves its pooled session usable") {
  // A failed try commits. Had it set the lease as the session's
  // idle_session_timeout, the server would end the session in the pool after
  // the lease, and the next lock to take it would fail with
  // BackendUnavailable on a healthy server (found by the conformance torture
  // case).
  const std::string app = "baton-try-idle-" + random_hex();
  auto m = manager(with_application_name(dsn(), app));
  const auto name = fresh("try-idle");
  baton::LockOptions short_lease;
  short_lease.ttl = 300ms;
  auto holder = m.lock(name);
  holder.acquire();
  auto other = m.lock(name, short_lease);
  CHECK_FALSE(other.try_acquire());
  holder.release();
  const std::string sessions = "SELECT count(*) " + sessions_of(app);
  const auto before = query_value(sessions);
  REQUIRE(before != "0");
  std::this_thread::sleep_for(800ms);
  // Both pooled sessions are alive past the try's lease (a try_acquire
  // retries once on an ended session, which would hide their loss from the
  // calls below), and serve at once.
  CHECK(query_value(sessions) == before);
  auto a = m.lock(fresh("try-idle-a"));
  auto b = m.lock(fresh("try-idle-b"));
  bool a_took = false, b_took = false;
  CHECK_NOTHROW(a_took = a.try_acquire());
  CHECK_NOTHROW(b_took = b.try_acquire());
  CHECK(a_took);
  CHECK(b_took);
}

TEST_CASE("a try_acquire on a pooled session that the server ended takes a new session") {
  // The sessions of this manager alone carry `app`, so ending them leaves
  // the tests running beside this one alone.
  const std::string app = "baton-ended-" + random_hex();
  auto m = manager(with_application_name(dsn(), app));
  const auto name = fresh("try-ended");
  auto first = m.lock(name);
  REQUIRE(first.try_acquire());
  first.release();  // its session goes back to the pool
  const std::string ours = sessions_of(app);
  REQUIRE(query_value("SELECT count(*) " + ours) != "0");
  query_value("SELECT count(pg_terminate_backend(pid)) " + ours);
  REQUIRE(eventually(5s, [&] { return query_value("SELECT count(*) " + ours) == "0"; }));
  auto second = m.lock(name);
  bool took = false;
  CHECK_NOTHROW(took = second.try_acquire());
  CHECK(took);
}

TEST_CASE("a SIGKILLed holder frees the lock in well under a second") {
  auto m = manager();
  CliHolder holder(m, fresh("crash"), "30");
  auto waiter = m.lock(holder.name);
  const auto killed = std::chrono::steady_clock::now();
  holder.process.signal(SIGKILL, /*group=*/true);
  REQUIRE(waiter.acquire_for(10s));
  const auto elapsed = ms_since(killed).count();
  INFO("lock free " << elapsed << " ms after SIGKILL (lease was 30 s)");
  CHECK(elapsed < 1000);
}

TEST_CASE("the server enforces the lease of a hung (SIGSTOPped) holder, which then learns it lost") {
  auto m = manager();
  CliHolder holder(m, fresh("hang"), "1");
  auto waiter = m.lock(holder.name);
  const auto stopped = std::chrono::steady_clock::now();
  holder.process.signal(SIGSTOP);
  REQUIRE(waiter.acquire_for(10s));
  const auto elapsed = ms_since(stopped).count();
  INFO("lock free " << elapsed << " ms after SIGSTOP with a 1 s lease");
  CHECK(elapsed >= 900);
  CHECK(elapsed < 3500);
  holder.process.signal(SIGCONT);
  // Resumed, its renewal finds the session gone: CMD gets SIGTERM, exit 76.
  CHECK(holder.process.wait_exit(10s) == std::optional<int>(76));
  CHECK(waiter.holds());
  waiter.renew();
}

TEST_CASE("clear() ends another session's hold, waiters proceed and the old holder sees the loss") {
  auto m = manager();
  CliHolder holder(m, fresh("clear"), "3");
  auto waiter = m.lock(holder.name);
  CHECK_FALSE(waiter.try_acquire());
  CHECK(m.clear(holder.name));
  CHECK(waiter.acquire_for(3s));
  CHECK(holder.process.wait_exit(10s) == std::optional<int>(76));
  CHECK_FALSE(m.clear(fresh("never-held")));
}

TEST_CASE("clear() without the privilege to end the holder's session is a clear BackendError") {
  query_value("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'baton_unprivileged') THEN "
              "CREATE ROLE baton_unprivileged LOGIN; END IF; END $$");
  query_value("GRANT USAGE ON SCHEMA baton TO baton_unprivileged");
  query_value("GRANT SELECT ON baton.baton_locks TO baton_unprivileged");
  auto owner = manager();  // the superuser of the test server
  const auto name = fresh("privilege");
  auto lock = owner.lock(name);
  REQUIRE(lock.try_acquire());
  // Same server, another role: swap the user in the DSN.
  std::string other = dsn();
  const auto at = other.find("postgres@");
  REQUIRE(at != std::string::npos);
  other.replace(at, 8, "baton_unprivileged");
  auto weak = manager(other);
  CHECK(weak.inspect(name).held);
  try {
    weak.clear(name);
    FAIL("clear succeeded without privilege");
  } catch (const baton::BackendError& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("privilege") != std::string::npos);
  }
  CHECK(lock.holds());
  lock.renew();
}

TEST_CASE("an unreachable server is BackendUnavailable within connect_timeout") {
  // A listener that accepts but never speaks: the connect hangs until our bound.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  for (const bool silent : {true, false}) {
    baton::postgres::Options o;
    // A refused port: close the listener's twin by using port+0 after close.
    o.dsn = "postgresql://baton:s3cr3t-pw@127.0.0.1:" + std::to_string(silent ? port : 1) + "/baton";
    o.connect_timeout = 700ms;
    baton::LockManager m(baton::postgres::make_backend(o));
    auto lock = m.lock("x");
    const auto start = std::chrono::steady_clock::now();
    try {
      lock.try_acquire();
      FAIL("acquired on an unreachable server");
    } catch (const baton::BackendUnavailable& e) {
      const auto elapsed = ms_since(start).count();
      INFO(e.what() << " after " << elapsed << " ms");
      CHECK(elapsed < 1500);
      CHECK(std::string(e.what()).find("s3cr3t-pw") == std::string::npos);
    }
  }
  ::close(fd);
}

TEST_CASE("a key=value DSN works like a URI") {
  // postgresql://USER@HOST:PORT/DB -> user=USER host=HOST port=PORT dbname=DB
  const std::string uri = dsn();
  const auto rest = uri.substr(uri.find("://") + 3);
  const auto at = rest.find('@'), colon = rest.find(':', at), slash = rest.find('/', colon);
  REQUIRE((at != std::string::npos && colon != std::string::npos && slash != std::string::npos));
  const std::string kv = "user=" + rest.substr(0, at) + " host=" + rest.substr(at + 1, colon - at - 1) +
                         " port=" + rest.substr(colon + 1, slash - colon - 1) + " dbname=" + rest.substr(slash + 1);
  auto m = manager(kv);
  auto lock = m.lock(fresh("kv"));
  CHECK(lock.try_acquire());
  CHECK(m.inspect(lock.name()).held);
}

TEST_CASE("config: dsn is required, keys are checked, schema is used") {
  using baton::postgres::options_from_config;
  CHECK_THROWS_AS(options_from_config(nlohmann::json::object()), baton::ConfigError);
  try {
    options_from_config({{"dsn", "x"}, {"dns", "typo"}});
    FAIL();
  } catch (const baton::ConfigError& e) {
    CHECK(e.key() == "postgres.dns");
  }
  auto o = options_from_config({{"dsn", dsn()}, {"schema", "baton_alt schema"}, {"pool_size", 2}});
  CHECK(o.schema == "baton_alt schema");
  baton::LockManager m(baton::postgres::make_backend(o));
  const auto name = fresh("schema");  // hex: safe to quote in SQL
  auto lock = m.lock(name);
  REQUIRE(lock.try_acquire());
  CHECK(query_value("SELECT count(*) FROM \"baton_alt schema\".baton_locks WHERE name = convert_to('" + name +
                    "', 'UTF8')") == "1");
  lock.release();
}

// A cancel the waiter did not ask for (an operator's pg_cancel_backend, or
// a cancel request of an earlier attempt delivered late) is no answer to a
// blocking acquire: it queues again and returns holding the lock, never
// unheld (§1.4).
TEST_CASE("a waiting acquire() whose statement is cancelled from outside keeps waiting and is granted") {
  auto m = manager();
  const auto name = fresh("stray-cancel");
  auto holder = m.lock(name);
  REQUIRE(holder.try_acquire());
  const std::string key = std::to_string(advisory_key(name));
  std::atomic<int> outcome{0};  // 0 waiting, 1 granted and holds, 2 returned unheld, 3 threw
  std::atomic<std::uint64_t> token{0};
  std::jthread waiter([&] {  // no Catch2 assertions off the main thread
    auto w = m.lock(name);
    try {
      w.acquire();
      token = w.token();
      outcome = w.holds() ? 1 : 2;
      w.release();
    } catch (...) {
      outcome = 3;
    }
  });
  const std::string waiting_pid = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND "
                                  "objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = " + key;
  REQUIRE(eventually(10s, [&] { return !query_value(waiting_pid).empty(); }));
  CHECK(query_value("SELECT pg_cancel_backend((" + waiting_pid + " LIMIT 1))") == "t");
  REQUIRE(eventually(10s, [&] { return !query_value(waiting_pid).empty(); }));  // queued again
  CHECK(outcome == 0);
  const auto held_token = holder.token();
  holder.release();
  waiter.join();
  CHECK(outcome == 1);
  CHECK(token > held_token);
}

int main(int argc, char** argv) {
  if (auto code = server_or_skip("postgres_tests", "BATON_TEST_PG_DSN", argc, argv)) return *code;
  return run_catch_session(argc, argv);
}
