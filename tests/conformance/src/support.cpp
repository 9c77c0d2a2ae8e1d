#include "support.hpp"

#include "capabilities.hpp"
#include "traced_backend.hpp"
#include "watchdog.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>

#include <stdexcept>

namespace baton::conformance::detail {

namespace {

Suite& suite_storage() {
  static Suite s;
  return s;
}

}  // namespace

// ---- suite -------------------------------------------------------------------

void set_suite(const Suite& s) { suite_storage() = s; }
const Suite& suite() { return suite_storage(); }

std::shared_ptr<Backend> make_backend() {
  if (!suite().make_backend) throw std::logic_error("conformance: Suite::make_backend is not set");
  auto backend = suite().make_backend();
  if (!backend) throw std::logic_error("conformance: Suite::make_backend returned null");
  return traced(std::move(backend));
}

LockManager make_manager(ManagerOptions options) { return LockManager(make_backend(), options); }

milliseconds dead_waiter_bound() {
  return suite().dead_waiter_bound > 0ms ? suite().dead_waiter_bound : milliseconds{5000};
}

// ---- names ---------------------------------------------------------------------

const std::string& run_prefix() {
  static const std::string prefix = "conf-" + baton::test::random_hex(12) + "-";
  return prefix;
}

std::string unique_name(std::string_view tag) {
  static std::atomic<unsigned> counter{0};
  return run_prefix() + std::string(tag) + "-" + std::to_string(++counter);
}

// ---- handshakes --------------------------------------------------------------------

std::string field(std::string_view line, std::string_view key) {
  const std::string needle = std::string(key) + "=";
  std::size_t pos = 0;
  while ((pos = line.find(needle, pos)) != std::string_view::npos) {
    if (pos == 0 || line[pos - 1] == ' ') {
      const auto start = pos + needle.size();
      const auto end = line.find_first_of(" \n", start);
      return std::string(line.substr(start, end == std::string_view::npos ? line.npos : end - start));
    }
    pos += needle.size();
  }
  return {};
}

// ---- helper processes ------------------------------------------------------------

namespace {

std::vector<std::string> helper_argv(std::string task, std::vector<std::string> args) {
  std::vector<std::string> argv{"/proc/self/exe", std::string(helper_marker), std::to_string(::getpid()),
                                std::move(task)};
  for (auto& a : args) argv.push_back(std::move(a));
  return argv;
}

}  // namespace

namespace {

// Enforces the capability rule before a helper process starts.
std::string checked_task(std::string task) {
  require_case_tag("process", "starts a helper process");
  if (!suite().multi_process) {
    throw std::logic_error("conformance: a helper process on a backend whose Suite::multi_process is false");
  }
  return task;
}

}  // namespace

Helper::Helper(std::string task, std::vector<std::string> args)
    : Process(helper_argv(checked_task(std::move(task)), std::move(args))) {
  watch_helper(pid());
}

Helper::~Helper() {
  if (pid() > 0) unwatch_helper(pid());
}

void check_all_exit_0(std::vector<Helper>& helpers, milliseconds bound) {
  for (auto& h : helpers) {
    INFO("helper " << h.description()
                   << " must exit 0 within its bound (2: an exception, 3: a bounded wait ran out, 4: a check "
                      "inside it failed; its stderr says which)");
    const auto rc = h.wait_exit(bound);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
  }
}

std::vector<std::uint64_t> run_counter_helpers(const std::string& task, const std::vector<std::string>& args,
                                               const TempDir& dir, int processes, int iterations) {
  std::vector<Helper> helpers;
  for (int i = 0; i < processes; ++i) {
    auto argv = args;
    argv.insert(argv.end(), {dir.path().string(), std::to_string(iterations), std::to_string(i)});
    helpers.emplace_back(task, std::move(argv));
  }
  for (int i = 0; i < processes; ++i) {
    INFO("helper " << i << " never got ready (it builds its backend with Suite::make_backend)");
    REQUIRE(wait_for_file(dir / ("ready-" + std::to_string(i)), 30s));
  }
  write_file(dir / "go", "");
  check_all_exit_0(helpers, 90s);
  const auto counter = read_file(dir / "counter");
  INFO("the counter file the helpers increment under their lock: " << counter.value_or("(missing)"));
  REQUIRE(counter.has_value());
  CHECK(std::stol(*counter) == processes * iterations);
  std::vector<std::uint64_t> tokens;
  for (const auto& line : read_lines(dir / "tokens")) tokens.push_back(std::stoull(line));
  INFO("grants recorded by the helpers (one per acquire)");
  REQUIRE(tokens.size() == static_cast<std::size_t>(processes * iterations));
  return tokens;
}

// ---- threads ---------------------------------------------------------------------

ThreadWaiter::ThreadWaiter(Lock& lock, milliseconds timeout, std::function<void(Lock&)> then)
    : state_(std::make_shared<State>()) {
  thread_ = std::jthread([state = state_, &lock, timeout, then = std::move(then)](std::stop_token st) {
    bool ok = false;
    try {
      ok = lock.acquire_for(timeout, st);
      state->returned_at = Clock::now();
      if (ok) state->token = lock.token();
      state->result.store(ok ? 1 : 0);
    } catch (const std::exception& e) {
      state->returned_at = Clock::now();
      state->error = std::string("acquire_for threw: ") + e.what();
      state->result.store(-1);
    }
    if (ok && then) {
      try {
        then(lock);
      } catch (const std::exception& e) {
        state->then_error = e.what();
      }
    }
    state->finished.store(true);
  });
}

ThreadWaiter::~ThreadWaiter() {
  Step step("joining a waiter thread: its acquire_for() must return after a stop request (docs/design.md §1.4)");
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

std::optional<bool> ThreadWaiter::result(milliseconds bound) {
  if (!eventually(bound, [&] { return state_->result.load() != -2; }, 1ms)) return std::nullopt;
  const int r = state_->result.load();
  if (r < 0) return std::nullopt;
  return r == 1;
}

bool ThreadWaiter::finish(milliseconds bound) {
  return eventually(bound, [&] { return state_->finished.load(); }, 1ms);
}

std::size_t wait_for_waiters(LockManager& manager, std::string_view name, std::size_t n,
                             milliseconds bound) {
  Step step("waiting for inspect().waiters to reach " + std::to_string(n) + " (docs/design.md §1.9)");
  std::size_t seen = 0;
  eventually(
      bound,
      [&] {
        seen = manager.inspect(name).waiters;
        return seen == n;
      },
      5ms);
  return seen;
}

}  // namespace baton::conformance::detail
