// Tests of baton::redis::Fence: writes Redis refuses when their fencing
// token is stale, against the server $BATON_TEST_REDIS_URL names. Each case
// uses keys of its own, deleted afterwards.
#include <catch2/catch.hpp>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "baton/redis.hpp"
#include "baton/redis_fence.hpp"
#include "catch_session.hpp"
#include "test_support.hpp"

using namespace baton::test;

namespace {

std::string url() { return std::getenv("BATON_TEST_REDIS_URL"); }

baton::redis::Options options() {
  baton::redis::Options o;
  o.url = url();
  return o;
}

// A raw connection of the test's own (the test servers' URLs carry no
// user, password or db), and keys under a fresh prefix, deleted afterwards.
struct Fresh {
  std::string prefix = "fence-test:" + random_hex() + ":";
  redisContext* c = nullptr;
  baton::redis::Fence fence{options()};
  Fresh() {
    auto rest = url().substr(8);
    rest = rest.substr(0, rest.find('/'));
    const auto colon = rest.rfind(':');
    c = redisConnect(rest.substr(0, colon).c_str(), std::stoi(rest.substr(colon + 1)));
    REQUIRE((c != nullptr && c->err == 0));
  }
  Fresh(const Fresh&) = delete;
  Fresh& operator=(const Fresh&) = delete;
  ~Fresh() {
    for (const auto& k : keys()) freeReplyObject(redisCommand(c, "DEL %b", k.data(), k.size()));
    redisFree(c);
  }
  std::string key(const std::string& leaf) const { return prefix + leaf; }
  // The value of GET `k` ("(nil)" when missing).
  std::string get(const std::string& k) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "GET %b", k.data(), k.size()));
    std::string v = r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "(nil)";
    freeReplyObject(r);
    return v;
  }
  std::vector<std::string> list(const std::string& k) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "LRANGE %b 0 -1", k.data(), k.size()));
    std::vector<std::string> out;
    for (size_t i = 0; i < r->elements; ++i) out.emplace_back(r->element[i]->str, r->element[i]->len);
    freeReplyObject(r);
    return out;
  }
  std::vector<std::string> keys() {
    const std::string pattern = prefix + "*";
    auto* r = static_cast<redisReply*>(redisCommand(c, "KEYS %b", pattern.data(), pattern.size()));
    std::vector<std::string> out;
    for (size_t i = 0; i < r->elements; ++i) out.emplace_back(r->element[i]->str, r->element[i]->len);
    freeReplyObject(r);
    return out;
  }
};

}  // namespace

TEST_CASE_METHOD(Fresh, "fence: the first write of a key is admitted and its token kept beside it") {
  fence.set(key("a"), "v1", 5);
  CHECK(get(key("a")) == "v1");
  CHECK(baton::redis::Fence::fence_key(key("a")) == key("a") + ":baton-fence");
  CHECK(get(key("a:baton-fence")) == "5");
}

TEST_CASE_METHOD(Fresh, "fence: an equal token is admitted (one holder writes twice), a higher one raises the bar") {
  fence.set(key("a"), "v1", 5);
  CHECK_NOTHROW(fence.set(key("a"), "v2", 5));
  CHECK(get(key("a")) == "v2");
  fence.set(key("a"), "v3", 10);
  CHECK(get(key("a")) == "v3");
  CHECK(get(key("a:baton-fence")) == "10");
}

TEST_CASE_METHOD(Fresh, "fence: a lower token raises StaleToken and nothing of the write happens") {
  fence.set(key("a"), "v1", 10);
  try {
    fence.eval("redis.call('RPUSH', KEYS[2], 'late') return redis.call('SET', KEYS[1], ARGV[1])",
               {key("a"), key("journal")}, {"late"}, 9);
    FAIL("a lower token was admitted");
  } catch (const baton::StaleToken& stale) {
    CHECK(stale.resource() == key("a"));
    CHECK(stale.token() == 9);
    CHECK(stale.highest() == 10);
  }
  CHECK(get(key("a")) == "v1");
  CHECK(list(key("journal")).empty());
  CHECK(get(key("a:baton-fence")) == "10");
}

TEST_CASE_METHOD(Fresh, "fence: tokens above 2^53 are compared exactly") {
  fence.set(key("a"), "v1", 9007199254740993ULL);
  CHECK_THROWS_AS(fence.set(key("a"), "v2", 9007199254740992ULL), baton::StaleToken);
  CHECK_NOTHROW(fence.set(key("a"), "v3", 9007199254740994ULL));
  CHECK(get(key("a")) == "v3");
  // A shorter number is lower whatever its digits.
  CHECK_THROWS_AS(fence.set(key("a"), "v4", 99), baton::StaleToken);
}

TEST_CASE_METHOD(Fresh, "fence: eval's script sees its own KEYS and ARGV and returns its reply") {
  CHECK(fence.eval("return #KEYS .. ' ' .. #ARGV .. ' ' .. KEYS[2] .. ' ' .. ARGV[1]", {key("a"), key("b")},
                   {"x"}, 3) == "2 1 " + key("b") + " x");
  CHECK(fence.eval("return 42", {key("a")}, {}, 3) == "42");
  CHECK(fence.eval("return nil", {key("a")}, {}, 3) == std::nullopt);
  CHECK_THROWS_AS(fence.eval("return {1, 2}", {key("a")}, {}, 3), baton::BackendError);
  CHECK_THROWS_AS(fence.eval("return redis.call('NOSUCHCOMMAND')", {key("a")}, {}, 3), baton::BackendError);
  CHECK_THROWS_AS(fence.eval("return 1", {}, {}, 3), std::invalid_argument);
  CHECK_THROWS_AS(fence.set(key("a"), "v", 0), std::invalid_argument);
}

// 8 threads, each with its own Fence, write random tokens; each admitted
// write appends its token to a journal in the same script. In the journal's
// order admitted tokens never decrease.
TEST_CASE_METHOD(Fresh, "fence: concurrent fences from 8 threads never admit a lower token after a higher one") {
  constexpr int threads = 8;
  constexpr int rounds = 150;
  std::atomic<int> refused{0}, bad_refusals{0}, errors{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      baton::redis::Fence mine(options());
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
      std::uniform_int_distribution<std::uint64_t> pick(1, 1000);
      for (int i = 0; i < rounds; ++i) {
        const std::uint64_t token = pick(rng);
        try {
          mine.eval("redis.call('SET', KEYS[1], ARGV[1]) return redis.call('RPUSH', KEYS[2], ARGV[1])",
                    {key("shared"), key("journal")}, {std::to_string(token)}, token);
        } catch (const baton::StaleToken& stale) {
          ++refused;
          if (!(stale.highest() > token)) ++bad_refusals;
        } catch (const std::exception&) {
          ++errors;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  CHECK(errors == 0);
  CHECK(bad_refusals == 0);
  std::vector<std::uint64_t> admitted;
  for (const auto& v : list(key("journal"))) admitted.push_back(std::stoull(v));
  INFO(admitted.size() << " admitted, " << refused << " refused");
  REQUIRE(admitted.size() >= 2);
  CHECK(refused > 0);
  CHECK(std::is_sorted(admitted.begin(), admitted.end()));
  CHECK(get(key("shared:baton-fence")) == std::to_string(admitted.back()));
}

// The classic scenario, with real processes: the first holder is SIGSTOPped
// past its lease, the next holder takes the lock and writes through the
// fence, and the first resumes and writes with its old token. The late
// write is refused and nothing of it happens.
TEST_CASE_METHOD(Fresh, "fence: a holder paused past its lease cannot overwrite the next holder's write") {
  TempDir dir("baton-redis-fence");
  const std::string name = "redis-fence-" + random_hex();
  const std::string account = key("account");
  baton::LockManager manager(baton::redis::make_backend(options()));

  Process first({FENCE_HOLDER_PATH, url(), name, account, dir.path().string()}, {}, dir / "holder.log");
  REQUIRE(wait_for_file(dir / "ready", 10s));
  const auto first_token = std::stoull(*read_file(dir / "ready"));
  CHECK(get(account) == "first");
  REQUIRE(first.stop());

  auto second = manager.lock(name);
  REQUIRE(second.acquire_for(10s));
  REQUIRE(second.token() > first_token);
  fence.set(account, "second", second.token());

  write_file(dir / "go", "");
  first.resume();
  const auto exit_code = first.wait_exit(10s);
  INFO("holder log: " << read_file(dir / "holder.log").value_or(""));
  CHECK(exit_code == std::optional<int>(3));
  CHECK(read_file(dir / "result") == "stale " + std::to_string(first_token) + " " + std::to_string(second.token()));
  CHECK(get(account) == "second");
  CHECK(list(account + ":journal") == std::vector<std::string>{"first"});
  second.release();
}

int main(int argc, char** argv) {
  if (auto code = server_or_skip("redis_fence_tests", "BATON_TEST_REDIS_URL", argc, argv)) return *code;
  return run_catch_session(argc, argv);
}
