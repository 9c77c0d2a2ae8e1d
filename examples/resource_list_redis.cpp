// examples/resource_list_redis.cpp: a bounded list in Redis, changed by 8
// processes in steps of three commands that must not interleave.
//
//   resource_list_redis [URL]   (default: $BATON_TEST_REDIS_URL)
//
// The list baton-example:jobs holds the newest jobs, at most 5. A step
// checks the length (LLEN), and when the list is full pops the oldest job
// off its end (RPOP, kept in baton-example:jobs:popped), then pushes a new
// job at its head (LPUSH). Each command is atomic, the three together are
// not: two steps side by side can both see 4 jobs and both push, and the
// list outgrows its bound for good. The resource lock ("list", "jobs"),
// named "__baton/list/jobs" in baton's reserved namespace so that no user
// lock can take it (docs/design.md §1.14), makes the step one change. Locks
// live on the same server, through baton's Redis backend.
//
// Every command goes through a baton::redis::Fence with the grant's
// fencing token: Redis itself refuses (baton::StaleToken) the command of a
// worker that stalled past its lease and lost the lock, so a stale worker
// cannot pop or push in the middle of the new holder's step.
//
// The parent empties the list, starts 8 workers (this program with
// --worker), then checks: the list holds exactly 5 jobs, and the jobs left
// plus the jobs popped are exactly the jobs pushed, each once. Exit status
// 0 when all hold, 77 (skipped) without a URL (1 under CI=true).
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <baton/baton.hpp>
#include <baton/redis_fence.hpp>
#include <nlohmann/json.hpp>

#include "workers.hpp"

namespace {

constexpr int worker_count = 8;
constexpr int steps_per_worker = 30;
constexpr int bound = 5;  // the list's length, once full
const std::string list_key = "baton-example:jobs";
const std::string popped_key = "baton-example:jobs:popped";

// One step, three fenced commands under one grant. False when the token
// is stale: the command refused made no change, and the step is redone
// under a new grant.
bool step(baton::redis::Fence& fence, std::uint64_t token, const std::string& job) {
  try {
    const auto length = fence.eval("return redis.call('LLEN', KEYS[1])", {list_key}, {}, token);
    if (std::stoi(length.value_or("0")) >= bound) {
      fence.eval("local job = redis.call('RPOP', KEYS[1]); redis.call('RPUSH', KEYS[2], job); return job",
                 {list_key, popped_key}, {}, token);
    }
    fence.eval("return redis.call('LPUSH', KEYS[1], ARGV[1])", {list_key}, {job}, token);
    return true;
  } catch (const baton::StaleToken& e) {
    std::fprintf(stderr, "refused, this process lost the lock: %s\n", e.what());
    return false;
  }
}

int worker(int id, const std::string& url) {
  baton::redis::Options options;
  options.url = url;
  baton::LockManager manager(baton::redis::make_backend(options));
  baton::Lock lock = manager.resource_lock("list", "jobs");
  baton::redis::Fence fence(options);
  for (int i = 0; i < steps_per_worker;) {
    std::unique_lock guard(lock);  // FIFO among the 8 workers
    if (step(fence, lock.token(), "job-" + std::to_string(id) + "-" + std::to_string(i))) ++i;
  }
  return 0;
}

// The elements of the list at `key`, read under the lock's `token`.
std::vector<std::string> elements(baton::redis::Fence& fence, const std::string& key, std::uint64_t token) {
  const auto json = fence.eval("return cjson.encode(redis.call('LRANGE', KEYS[2], 0, -1))", {list_key, key}, {}, token);
  const auto parsed = nlohmann::json::parse(json.value_or("[]"));
  // cjson encodes an empty Lua table as {}, not [].
  return parsed.is_array() ? parsed.get<std::vector<std::string>>() : std::vector<std::string>{};
}

// The list is full, and left + popped are the pushed jobs, each once.
bool check(baton::redis::Fence& fence, std::uint64_t token) {
  const auto left = elements(fence, list_key, token);
  const auto popped = elements(fence, popped_key, token);
  std::set<std::string> seen(left.begin(), left.end());
  seen.insert(popped.begin(), popped.end());
  std::set<std::string> pushed;
  for (int id = 0; id < worker_count; ++id) {
    for (int i = 0; i < steps_per_worker; ++i) pushed.insert("job-" + std::to_string(id) + "-" + std::to_string(i));
  }
  std::printf("%zu jobs pushed; %zu left in the list (bound %d) + %zu popped = %zu, %zu distinct\n", pushed.size(),
              left.size(), bound, popped.size(), left.size() + popped.size(), seen.size());
  return left.size() == static_cast<std::size_t>(bound) && left.size() + popped.size() == pushed.size() &&
         seen == pushed;
}

int parent(const std::string& url) {
  baton::redis::Options options;
  options.url = url;
  baton::LockManager manager(baton::redis::make_backend(options));
  baton::Lock lock = manager.resource_lock("list", "jobs");
  baton::redis::Fence fence(options);
  {
    std::unique_lock guard(lock);  // the parent changes the list under the lock too
    fence.eval("return redis.call('DEL', KEYS[1], KEYS[2])", {list_key, popped_key}, {}, lock.token());
  }
  if (!example::run_workers(worker_count, {url})) return 1;
  std::unique_lock guard(lock);
  const bool ok = check(fence, lock.token());
  std::printf("%s\n", ok ? "nothing lost, nothing duplicated" : "FAILED: the list lost or duplicated a job");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (example::is_worker(argc, argv)) return worker(std::stoi(argv[2]), argc > 3 ? argv[3] : "");
    const char* url = argc > 1 ? argv[1] : std::getenv("BATON_TEST_REDIS_URL");
    if (url == nullptr || *url == '\0') {
      return example::skip_without_server("resource_list_redis", "no URL given and BATON_TEST_REDIS_URL is not set");
    }
    return parent(url);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "resource_list_redis: %s\n", e.what());
    return 1;
  }
}
