// The watchdog of watchdog.hpp: a Catch2 listener starts and stops the
// clock of each case; one background thread fires when a case runs past
// its bound.
#define CATCH_CONFIG_EXTERNAL_INTERFACES  // Catch::TestEventListenerBase
#include <catch2/catch.hpp>

#include "watchdog.hpp"

#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "capabilities.hpp"
#include "support.hpp"

namespace baton::conformance::detail {

void anchor_watchdog() {}

namespace {

constexpr const char* timeout_env = "BATON_CONFORMANCE_CASE_TIMEOUT_S";
constexpr long default_timeout_s = 100;

struct Watch {
  std::mutex mu;
  std::condition_variable cv;
  bool thread_started = false;
  std::string case_name;  // empty: no case running
  std::string step;
  std::chrono::steady_clock::time_point deadline{};
  std::set<pid_t> helpers;
  struct Call {
    std::string what;
    std::chrono::steady_clock::time_point began;
  };
  std::map<unsigned long long, Call> calls;  // by BackendCall id
  unsigned long long next_call_id = 0;
};

// Never destroyed: the watchdog thread may still wait on it while the
// program's statics are torn down.
Watch& watch() {
  static Watch* w = new Watch;
  return *w;
}

long timeout_seconds() {
  const char* text = std::getenv(timeout_env);
  if (text == nullptr || *text == '\0') return default_timeout_s;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value <= 0) return default_timeout_s;
  return value;
}

// Whether `pid` is still a child of this process (not reaped, not a reused pid).
bool is_our_child(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return false;
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  // ") S ppid ..."
  const auto ppid_at = text.find(' ', close + 2);
  if (ppid_at == std::string::npos) return false;
  return std::atol(text.c_str() + ppid_at + 1) == static_cast<long>(::getpid());
}

void write_stderr(std::string_view text) {
  while (!text.empty()) {
    const auto n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string calls_in_progress(const Watch& w) {
  if (w.calls.empty()) return "  backend calls in progress: none\n";
  std::string text = "  backend calls in progress:\n";
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [id, call] : w.calls) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - call.began).count();
    text += "    " + call.what + ", running for " + std::to_string(ms) + " ms\n";
  }
  return text;
}

// Resumes and kills the case's helper processes; returns their pids.
std::string stop_helpers(const Watch& w) {
  std::string pids;
  for (const pid_t pid : w.helpers) {
    if (!is_our_child(pid)) continue;
    pids += ' ';
    pids += std::to_string(pid);
    ::kill(-pid, SIGCONT);
    ::kill(pid, SIGCONT);
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  }
  return pids.empty() ? std::string(" none") : pids;
}

[[noreturn]] void fire(const Watch& w) {
  std::string message = "\nconformance watchdog: backend '" + suite().name + "', case \"" + w.case_name +
                        "\" ran past its time bound of " + std::to_string(timeout_seconds()) + " s (" +
                        timeout_env + ")\n  in step: " +
                        (w.step.empty() ? std::string("(none recorded)") : w.step) + "\n" +
                        calls_in_progress(w) +
                        "  This is a failure of the case: a call into the backend or a wait for the store "
                        "never returned (docs/design.md §1.12: errors, not hangs).\n";
  message += "  helper processes resumed and killed:" + stop_helpers(w) + "\n";
  // What the case printed so far (Catch2 writes to std::cout) comes first.
  std::cout.flush();
  std::fflush(stdout);
  write_stderr(message);
  std::_Exit(watchdog_exit_code);
}

void run_watchdog() {
  Watch& w = watch();
  std::unique_lock lock(w.mu);
  for (;;) {
    if (w.case_name.empty()) {
      w.cv.wait(lock);
    } else if (std::chrono::steady_clock::now() < w.deadline) {
      w.cv.wait_until(lock, w.deadline);
    } else {
      fire(w);
    }
  }
}

void start_case(const std::string& name) {
  Watch& w = watch();
  std::lock_guard lock(w.mu);
  w.case_name = name.empty() ? std::string("(unnamed)") : name;
  w.step.clear();
  w.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds());
  if (!w.thread_started) {
    std::thread(run_watchdog).detach();
    w.thread_started = true;
  }
  w.cv.notify_all();
}

void end_case() {
  Watch& w = watch();
  std::lock_guard lock(w.mu);
  w.case_name.clear();
  w.step.clear();
  w.cv.notify_all();
}

struct WatchdogListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(Catch::TestCaseInfo const& info) override {
    TestEventListenerBase::testCaseStarting(info);
    std::vector<std::string> tags;
    for (const auto& tag : info.tags) tags.push_back(Catch::toLower(tag));
    set_current_case(info.name, std::move(tags));
    start_case(info.name);
  }
  void testCaseEnded(Catch::TestCaseStats const& stats) override {
    end_case();
    set_current_case({}, {});
    TestEventListenerBase::testCaseEnded(stats);
  }
};

CATCH_REGISTER_LISTENER(WatchdogListener)

}  // namespace

std::chrono::milliseconds case_timeout() { return std::chrono::seconds(timeout_seconds()); }

Step::Step(std::string what) {
  Watch& w = watch();
  std::lock_guard lock(w.mu);
  previous_ = std::move(w.step);
  w.step = std::move(what);
}

Step::~Step() {
  Watch& w = watch();
  std::lock_guard lock(w.mu);
  w.step = std::move(previous_);
}

std::string current_step() {
  Watch& w = watch();
  std::lock_guard lock(w.mu);
  return w.step;
}

BackendCall::BackendCall(std::string what) {
  Watch& w = watch();
  std::lock_guard lock(w.mu);
  id_ = w.next_call_id++;
  w.calls.emplace(id_, Watch::Call{std::move(what), std::chrono::steady_clock::now()});
}

BackendCall::~BackendCall() {
  Watch& w = watch();
  std::lock_guard lock(w.mu);
  w.calls.erase(id_);
}

void watch_helper(pid_t pid) {
  Watch& w = watch();
  std::lock_guard lock(w.mu);
  w.helpers.insert(pid);
}

void unwatch_helper(pid_t pid) {
  Watch& w = watch();
  std::lock_guard lock(w.mu);
  w.helpers.erase(pid);
}

}  // namespace baton::conformance::detail
