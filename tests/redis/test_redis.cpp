// Redis-specific behaviour. Tests against the shared test server use
// $BATON_TEST_REDIS_URL with a key prefix of their own; tests that restart or
// freeze a server start a private redis-server on a free port.
#include <catch2/catch.hpp>

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <set>
#include <string_view>
#include <thread>

#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "baton/redis.hpp"
#include "catch_session.hpp"
#include "test_support.hpp"

using namespace baton::test;

namespace {

std::string shared_url() { return std::getenv("BATON_TEST_REDIS_URL"); }

baton::LockManager manager(const std::string& url, const std::string& prefix,
                           std::chrono::milliseconds heartbeat = 200ms) {
  baton::redis::Options o;
  o.url = url;
  o.key_prefix = prefix;
  o.heartbeat_interval = heartbeat;
  o.connect_timeout = 1s;
  o.command_timeout = 1s;
  return baton::LockManager(baton::redis::make_backend(o));
}

std::string fresh_prefix() { return "baton-test:" + random_hex() + ":"; }

// host and port of a redis:// URL without user or db (the test servers').
std::pair<std::string, int> host_port(const std::string& url) {
  auto rest = url.substr(8);
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  return {rest.substr(0, colon), std::stoi(rest.substr(colon + 1))};
}

// Every key under `prefix` (binary-safe), by SCAN.
std::vector<std::string> keys_under(const std::string& url, const std::string& prefix) {
  auto [host, port] = host_port(url);
  redisContext* c = redisConnect(host.c_str(), port);
  REQUIRE((c != nullptr && c->err == 0));
  std::vector<std::string> out;
  std::string cursor = "0";
  do {
    auto* r = static_cast<redisReply*>(redisCommand(c, "SCAN %s COUNT 1000", cursor.c_str()));
    REQUIRE(r != nullptr);
    cursor.assign(r->element[0]->str, r->element[0]->len);
    for (size_t i = 0; i < r->element[1]->elements; ++i) {
      std::string key(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
      if (key.compare(0, prefix.size(), prefix) == 0) out.push_back(key);
    }
    freeReplyObject(r);
  } while (cursor != "0");
  redisFree(c);
  return out;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A private redis-server, no persistence: a restart forgets everything, as
// a failover to an empty replica would.
class PrivateServer {
 public:
  explicit PrivateServer(std::vector<std::string> extra = {}) : port_(free_port()), extra_(std::move(extra)) { start(); }
  void start() {
    std::vector<std::string> argv{BATON_REDIS_SERVER, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--dir", dir_.path().string()};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    process_.emplace(argv, std::vector<std::string>{}, dir_ / "redis.log");
    REQUIRE(eventually(5s, [&] { return ping(); }));
  }
  void kill() {
    process_->signal(SIGKILL);
    process_->wait_exit(5s);
    process_.reset();
  }
  void signal(int sig) { process_->signal(sig); }
  bool ping() {
    timeval tv{0, 200000};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    bool ok = false;
    if (c != nullptr && c->err == 0) {
      redisSetTimeout(c, tv);
      auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
      // Any reply, NOAUTH included, means the server is up.
      ok = r != nullptr;
      if (r != nullptr) freeReplyObject(r);
    }
    if (c != nullptr) redisFree(c);
    return ok;
  }
  std::string url(const std::string& auth = "") const {
    return "redis://" + auth + "127.0.0.1:" + std::to_string(port_) + "/0";
  }

 private:
  TempDir dir_;
  int port_;
  std::vector<std::string> extra_;
  std::optional<Process> process_;
};

std::string write_cli_config(const TempDir& dir, const std::string& url, const std::string& prefix) {
  const auto path = dir / "baton.json";
  write_file(path, R"({"backend":"redis","redis":{"url":")" + url + R"(","key_prefix":")" + prefix +
                       R"(","heartbeat_ms":200}})");
  return path.string();
}

}  // namespace

TEST_CASE("a dead waiter in the middle of the queue is pruned by its own deadline, not its position") {
  TempDir dir;
  const auto prefix = fresh_prefix();
  auto m = manager(shared_url(), prefix);
  const std::string name = "mid-queue";
  auto holder = m.lock(name);
  REQUIRE(holder.try_acquire());
  const auto config = write_cli_config(dir, shared_url(), prefix);
  const auto log = dir / "order.log";
  auto waiter = [&](const std::string& id) {
    return Process({BATON_CLI_PATH, "--config", config, "run", name, "--timeout", "30", "--", "sh", "-c",
                    "echo " + id + " >> " + log.string()},
                   {}, dir / ("w" + id + ".log"));
  };
  auto first = waiter("1");
  REQUIRE(eventually(5s, [&] { return m.inspect(name).waiters == 1; }));
  auto doomed = waiter("2");
  REQUIRE(eventually(5s, [&] { return m.inspect(name).waiters == 2; }));
  auto third = waiter("3");
  REQUIRE(eventually(5s, [&] { return m.inspect(name).waiters == 3; }));
  doomed.signal(SIGKILL, true);
  doomed.wait_exit(5s);
  const auto released = std::chrono::steady_clock::now();
  holder.release();
  REQUIRE(first.wait_exit(10s) == std::optional<int>(0));
  REQUIRE(third.wait_exit(10s) == std::optional<int>(0));
  const auto elapsed = ms_since(released).count();
  INFO("both live waiters served " << elapsed << " ms after release (dead waiter's liveness: 600 ms)");
  CHECK(elapsed < 2000);
  CHECK(read_file(log).value_or("") == "1\n3\n");
}

// A stop request shuts the waiter's socket. It may land while the waiter is
// blocked, just after it queued, or between two polls (a 10 ms heartbeat
// makes those common): in every case the waiter must leave the queue before
// acquire returns, or the entry blocks everyone behind it until its
// liveness runs out.
TEST_CASE("a stop request at any point of the wait leaves no queue entry") {
  const auto prefix = fresh_prefix();
  auto m = manager(shared_url(), prefix, 10ms);
  const std::string name = "stop-anywhere";
  auto holder = m.lock(name);
  REQUIRE(holder.try_acquire());
  auto other = m.lock(name);
  for (int i = 0; i < 150; ++i) {
    std::stop_source source;
    std::jthread t([&] { CHECK_FALSE(other.acquire_for(30s, source.get_token())); });
    REQUIRE(eventually(5s, [&] { return m.inspect(name).waiters == 1; }, 1ms));
    // A third of the stops come within microseconds of queueing (before
    // the waiter first blocks), the rest anywhere in its first 12 ms.
    std::this_thread::sleep_for(std::chrono::microseconds(i % 3 == 0 ? i / 3 : i * 97 % 12000));
    source.request_stop();
    t.join();
    INFO("iteration " << i);
    REQUIRE(m.inspect(name).waiters == 0);
  }
  holder.release();
  CHECK(other.try_acquire());
  other.release();
}

TEST_CASE("a server restart during a hold is reported as a loss and waiters carry on once it is back") {
  PrivateServer server;
  const auto prefix = fresh_prefix();
  auto m = manager(server.url(), prefix);
  std::atomic<int> lost{0};
  auto holder = m.lock("restart", {.ttl = 1s, .on_lost = [&](auto, auto) { ++lost; }});
  REQUIRE(holder.try_acquire());
  const auto old_token = holder.token();
  auto other = manager(server.url(), prefix);
  auto waiter = other.lock("restart");
  std::atomic<int> got{-1};
  std::jthread wait_thread([&] {
    try {
      got = waiter.acquire_for(20s) ? 1 : 0;
    } catch (const baton::Error&) {
      got = 2;
    }
  });
  REQUIRE(eventually(5s, [&] { return m.inspect("restart").waiters == 1; }));
  server.kill();
  std::this_thread::sleep_for(300ms);
  server.start();
  CHECK(eventually(5s, [&] { return lost.load() == 1; }));
  CHECK_FALSE(holder.holds());
  CHECK_THROWS_AS(holder.release(), baton::LockLost);
  wait_thread.join();
  // A waiter whose server vanished fails with BackendUnavailable; one that
  // was between polls carries on. Either way a new acquire must work now.
  if (got != 1) {
    INFO("waiter result " << got.load());
    CHECK(got == 2);
    REQUIRE(waiter.acquire_for(5s));
  }
  CHECK(waiter.holds());
  // Counters restart from the server clock: still above the lost ones.
  CHECK(waiter.token() > old_token);
}

TEST_CASE("a frozen server (SIGSTOP) makes every call fail within its timeout, never hang") {
  PrivateServer server;
  auto m = manager(server.url(), fresh_prefix());
  auto lock = m.lock("frozen");
  REQUIRE(lock.try_acquire());
  lock.release();
  server.signal(SIGSTOP);
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    try {
      switch (i) {
        case 0: lock.try_acquire(); break;
        case 1: m.inspect("frozen"); break;
        default: lock.acquire_for(500ms); break;
      }
      FAIL("a call succeeded on a frozen server");
    } catch (const baton::BackendUnavailable& e) {
      INFO(e.what());
      CHECK(ms_since(start).count() < 3000);  // command timeout 1 s (+ connect 1 s)
    }
  }
  server.signal(SIGCONT);
  CHECK(eventually(5s, [&] {
    try {
      return lock.try_acquire();
    } catch (const baton::BackendUnavailable&) {
      return false;
    }
  }));
}

TEST_CASE("key prefixes isolate lock spaces") {
  const auto a = fresh_prefix(), b = fresh_prefix();
  auto ma = manager(shared_url(), a);
  auto mb = manager(shared_url(), b);
  auto la = ma.lock("same");
  auto lb = mb.lock("same");
  REQUIRE(la.try_acquire());
  CHECK(lb.try_acquire());
  for (const auto& k : keys_under(shared_url(), a)) CHECK(k.compare(0, a.size(), a) == 0);
  CHECK(ma.list().size() == 1);
  CHECK(mb.list().size() == 1);
  CHECK(ma.list()[0].token == la.token());
}

TEST_CASE("after a 20-process workload only the token counters are left") {
  TempDir dir;
  const auto prefix = fresh_prefix();
  const auto config = write_cli_config(dir, shared_url(), prefix);
  std::vector<Process> workers;
  for (int i = 0; i < 20; ++i) {
    const std::string name = i % 2 == 0 ? "work-a" : "work \"b\"\n*";
    workers.emplace_back(std::vector<std::string>{BATON_CLI_PATH, "--config", config, "run", name, "--timeout", "60",
                                                  "--", "sh", "-c", "sleep 0.02"},
                         std::vector<std::string>{}, dir / "workers.log");
  }
  for (auto& w : workers) REQUIRE(w.wait_exit(90s) == std::optional<int>(0));
  auto keys = keys_under(shared_url(), prefix);
  std::set<std::string> left(keys.begin(), keys.end());
  CHECK(left == std::set<std::string>{prefix + "work-a:token", prefix + "work \"b\"\n*:token"});
}

TEST_CASE("URLs with user, password and db, and AUTH failures never echo the password") {
  using baton::redis::options_from_config;
  CHECK_THROWS_AS(options_from_config({{"url", "http://x"}}), baton::ConfigError);
  CHECK_THROWS_AS(options_from_config({{"url", "redis://h:99999/0"}}), baton::ConfigError);
  CHECK_THROWS_AS(options_from_config({{"url", "redis://h:1/x"}}), baton::ConfigError);
  try {
    options_from_config({{"url", "redis://u:topsecret@h:notaport/0"}});
    FAIL();
  } catch (const baton::ConfigError& e) {
    CHECK(e.key() == "redis.url");
    CHECK(std::string(e.what()).find("topsecret") == std::string::npos);
  }
  PrivateServer server({"--requirepass", "p@ss word", "--user", "alice", "on", ">al1ce", "~*", "+@all"});
  {
    auto m = manager(server.url("default:p%40ss%20word@"), fresh_prefix());
    CHECK(m.lock("auth").try_acquire());
  }
  {
    auto m = manager(server.url("alice:al1ce@"), fresh_prefix());
    CHECK(m.lock("auth").try_acquire());
  }
  auto m = manager(server.url("alice:wrong-secret@"), fresh_prefix());
  try {
    m.lock("auth").try_acquire();
    FAIL("wrong password accepted");
  } catch (const baton::BackendError& e) {
    CHECK(std::string(e.what()).find("wrong-secret") == std::string::npos);
  }
}

int main(int argc, char** argv) {
  if (auto code = server_or_skip("redis_tests", "BATON_TEST_REDIS_URL", argc, argv)) return *code;
  return run_catch_session(argc, argv);
}
