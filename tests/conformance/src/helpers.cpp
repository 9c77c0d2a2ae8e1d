// The helper processes' tasks. A helper is this binary re-executed with
//   --baton-helper <parent pid> <task> <args...>
// It builds its backend with the suite's own factory, talks to the test
// through files in a directory the test gives it, and exits with:
//   0 done, 2 an exception (printed to stderr), 3 a bounded wait ran out,
//   4 a check inside the helper failed, 64 bad arguments.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "baton/error.hpp"
#include "support.hpp"
#include "torture.hpp"

namespace baton::conformance::detail {

namespace {

std::string result_of_release(Lock& lock) {
  try {
    lock.release();
    return "ok";
  } catch (const LockLost&) {
    return "lost";
  } catch (const std::logic_error&) {
    return "logic";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "conformance helper: release threw: %s\n", e.what());
    return "error";
  }
}

// N read-modify-writes of DIR/counter under `lock`, each appending
// "<token> <id>" to DIR/tokens (in grant order). Waits for DIR/go after
// writing DIR/ready-ID so all helpers contend at once.
int count_under(Lock& lock, const fs::path& dir, int n, const std::string& id) {
  write_file(dir / ("ready-" + id), "");
  if (!wait_for_file(dir / "go", 30s)) return 3;
  std::uint64_t last = 0;
  for (int i = 0; i < n; ++i) {
    if (!lock.acquire_for(60s)) return 3;
    const std::uint64_t token = lock.token();
    if (token <= last) {
      std::fprintf(stderr, "conformance helper counter: token %llu after %llu\n",
                   static_cast<unsigned long long>(token), static_cast<unsigned long long>(last));
      return 4;
    }
    last = token;
    const auto text = read_file(dir / "counter");
    const long value = text && !text->empty() ? std::stol(*text) : 0;
    std::this_thread::sleep_for(1ms);  // widen the window a broken lock would let others in
    write_file(dir / "counter", std::to_string(value + 1));
    append_line(dir / "tokens", std::to_string(token) + " " + id);
    lock.release();
  }
  return 0;
}

// counter NAME DIR N ID: count_under() the lock NAME.
int task_counter(const std::vector<std::string>& a) {
  if (a.size() != 4) return 64;
  auto manager = make_manager();
  auto lock = manager.lock(a[0]);
  return count_under(lock, a[1], std::stoi(a[2]), a[3]);
}

// resource_counter KIND NAME DIR N ID: count_under() the resource lock of
// KIND and NAME (docs/design.md §1.14).
int task_resource_counter(const std::vector<std::string>& a) {
  if (a.size() != 5) return 64;
  auto manager = make_manager();
  auto lock = manager.resource_lock(a[0], a[1]);
  return count_under(lock, a[2], std::stoi(a[3]), a[4]);
}

// hold NAME DIR TTL_MS AUTO_RENEW: acquires, writes DIR/acquired
// ("token=T pid=P"), waits for DIR/release, then releases and writes
// DIR/result ("holds_before=0|1 lost_before=0|1 callbacks=N release=ok|lost|logic").
// Each on_lost call appends "token=T name_ok=0|1" to DIR/lost.
int task_hold(const std::vector<std::string>& a) {
  if (a.size() != 4) return 64;
  const std::string name = a[0];
  const fs::path dir = a[1];
  std::atomic<int> callbacks{0};
  LockOptions options;
  options.ttl = milliseconds{std::stoll(a[2])};
  options.auto_renew = a[3] == "1";
  options.on_lost = [&callbacks, dir, name](std::string_view lost_name, std::uint64_t token) {
    ++callbacks;
    append_line(dir / "lost", "token=" + std::to_string(token) +
                                  " name_ok=" + (lost_name == name ? "1" : "0"));
  };
  auto manager = make_manager();
  auto lock = manager.lock(name, options);
  if (!lock.acquire_for(30s)) return 3;
  write_file(dir / "acquired",
             "token=" + std::to_string(lock.token()) + " pid=" + std::to_string(::getpid()));
  if (!wait_for_file(dir / "release", 60s)) return 3;
  const bool holds_before = lock.holds();
  const bool lost_before = lock.lost();
  const int calls_before = callbacks.load();
  const std::string released = result_of_release(lock);
  write_file(dir / "result", std::string("holds_before=") + (holds_before ? "1" : "0") +
                                 " lost_before=" + (lost_before ? "1" : "0") +
                                 " callbacks=" + std::to_string(calls_before) +
                                 " release=" + released);
  return 0;
}

// wait NAME DIR ID TIMEOUT_MS MODE: writes DIR/ready-ID, then
// acquire_for(TIMEOUT_MS); on success appends "id=ID token=T" to DIR/order
// (on timeout "id=ID timeout=1" and exits 3), writes DIR/acquired-ID, and
// releases at once (MODE "release") or after DIR/release-ID appears ("hold").
int task_wait(const std::vector<std::string>& a) {
  if (a.size() != 5) return 64;
  const std::string& name = a[0];
  const fs::path dir = a[1];
  const std::string& id = a[2];
  const milliseconds timeout{std::stoll(a[3])};
  const bool hold = a[4] == "hold";
  auto manager = make_manager();
  auto lock = manager.lock(name);
  write_file(dir / ("ready-" + id), "");
  if (!lock.acquire_for(timeout)) {
    append_line(dir / "order", "id=" + id + " timeout=1");
    return 3;
  }
  const std::uint64_t token = lock.token();
  append_line(dir / "order", "id=" + id + " token=" + std::to_string(token));
  write_file(dir / ("acquired-" + id), "token=" + std::to_string(token));
  if (hold && !wait_for_file(dir / ("release-" + id), 60s)) return 3;
  const std::string released = result_of_release(lock);
  if (released != "ok") {
    std::fprintf(stderr, "conformance helper wait: release: %s\n", released.c_str());
    return 4;
  }
  return 0;
}

// set_counter DIR N ID NAME...: N times, takes the lock set of the NAMEs
// (in the order given; the set takes them in canonical order), then for
// each NAME does a read-modify-write of DIR/counter-NAME, and releases.
// Waits for DIR/go after writing DIR/ready-ID, so all helpers contend at
// once. A set whose tokens do not strictly increase per name exits 4.
int task_set_counter(const std::vector<std::string>& a) {
  if (a.size() < 4) return 64;
  const fs::path dir = a[0];
  const int n = std::stoi(a[1]);
  const std::string& id = a[2];
  const std::vector<std::string> names(a.begin() + 3, a.end());
  auto manager = make_manager();
  auto set = manager.lock_set(names);
  write_file(dir / ("ready-" + id), "");
  if (!wait_for_file(dir / "go", 30s)) return 3;
  std::map<std::string, std::uint64_t> last;
  for (int i = 0; i < n; ++i) {
    if (!set.acquire_for(60s)) return 3;
    for (const auto& [name, token] : set.tokens()) {
      if (token <= last[name]) {
        std::fprintf(stderr, "conformance helper set_counter: %s token %llu after %llu\n", name.c_str(),
                     static_cast<unsigned long long>(token), static_cast<unsigned long long>(last[name]));
        return 4;
      }
      last[name] = token;
    }
    for (const auto& name : names) {
      const auto file = dir / ("counter-" + name);
      const auto text = read_file(file);
      const long value = text && !text->empty() ? std::stol(*text) : 0;
      std::this_thread::sleep_for(500us);  // widen the window an overlap would use
      write_file(file, std::to_string(value + 1));
    }
    set.release();
  }
  return 0;
}

}  // namespace

int run_helper(int argc, char** argv) {
  // Never outlive the test: die with the parent, and in any case after 2 min.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (argc < 2) return 64;
  if (std::to_string(::getppid()) != argv[0]) return 64;  // parent already gone
  ::alarm(120);
  const std::string task = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (task == "counter") return task_counter(args);
    if (task == "resource_counter") return task_resource_counter(args);
    if (task == "hold") return task_hold(args);
    if (task == "wait") return task_wait(args);
    if (task == "set_counter") return task_set_counter(args);
    if (task == "torture") return torture::run_helper_task(args);
    std::fprintf(stderr, "conformance helper: unknown task '%s'\n", task.c_str());
    return 64;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "conformance helper %s: %s\n", task.c_str(), e.what());
    return 2;
  }
}

}  // namespace baton::conformance::detail
