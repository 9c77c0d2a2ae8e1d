// Internal support of the conformance suite: the suite under test, unique
// names, helper processes and waiter threads. Temp dirs, polling, files and
// child processes are tests/support's (test_support.hpp).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "baton/conformance.hpp"
#include "baton/lock.hpp"
#include "baton/lock_manager.hpp"
#include "string_makers.hpp"  // before any use of Catch2 with baton's types
#include "test_support.hpp"

namespace baton::conformance::detail {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

// The first argument that turns the binary into a helper process.
inline constexpr std::string_view helper_marker = "--baton-helper";

// ---- the suite under test -------------------------------------------------

void set_suite(const Suite& suite);
const Suite& suite();
// A new backend object on the store under test (suite().make_backend()).
std::shared_ptr<Backend> make_backend();
// A manager on a new backend object.
LockManager make_manager(ManagerOptions options = {});
// suite().dead_waiter_bound, or 5 s when zero.
milliseconds dead_waiter_bound();

// ---- names ----------------------------------------------------------------

// A random prefix, fixed for this process ("conf-<hex>-"), so runs on a
// shared store never see each other's locks.
const std::string& run_prefix();
// run_prefix() + tag + "-" + a per-process counter: a fresh lock name.
std::string unique_name(std::string_view tag);

// ---- from tests/support --------------------------------------------------

using baton::test::append_line;
using baton::test::eventually;
using baton::test::ms_since;
using baton::test::read_file;
using baton::test::read_lines;
using baton::test::TempDir;
using baton::test::wait_for_file;
using baton::test::write_file;

// ---- helper processes -------------------------------------------------------

// A helper process: this binary re-executed (/proc/self/exe) with
// `--baton-helper <parent pid> <task> <args...>`. It builds its backend with
// the same suite().make_backend. Like every baton::test::Process, it is
// killed and reaped when it goes out of scope.
// The watchdog (watchdog.hpp) knows every live helper, to resume and kill it
// when a case runs past its bound.
class Helper : public baton::test::Process {
 public:
  Helper(std::string task, std::vector<std::string> args);
  Helper(Helper&& other) noexcept = default;
  ~Helper();
};

// Waits up to `bound` for each helper to exit, and checks (Catch2) that
// each one exited, with 0.
void check_all_exit_0(std::vector<Helper>& helpers, milliseconds bound);

// Runs `processes` helpers of a counter task (`task` with `args`, then the
// directory, `iterations` and the helper's index), lets them go at once,
// and checks (Catch2) that each exits 0 and that the counter file in `dir`,
// which they increment under their lock, reads processes × iterations.
// Returns the tokens they recorded in `dir`/tokens, one per grant.
std::vector<std::uint64_t> run_counter_helpers(const std::string& task, const std::vector<std::string>& args,
                                               const TempDir& dir, int processes, int iterations);

// Runs a helper task (argv after the marker: parent pid, task, args).
int run_helper(int argc, char** argv);

// ---- threads ----------------------------------------------------------------

// A thread that calls lock.acquire_for(timeout, stop) once. On success it
// records the token and runs `then` (which may release) before it ends. The
// destructor requests stop and joins, so it never outlives the test. Declare
// it after the Lock it uses.
class ThreadWaiter {
 public:
  ThreadWaiter(Lock& lock, milliseconds timeout, std::function<void(Lock&)> then = {});
  ~ThreadWaiter();
  ThreadWaiter(const ThreadWaiter&) = delete;
  ThreadWaiter& operator=(const ThreadWaiter&) = delete;

  // Waits up to `bound` for acquire_for to return: its result, or nullopt if
  // it has not returned yet (or threw: see error()). Does not wait for `then`.
  std::optional<bool> result(milliseconds bound);
  bool returned() const { return state_->result.load() != -2; }
  // Waits up to `bound` for the thread to end (`then` included).
  bool finish(milliseconds bound);
  bool finished() const { return state_->finished.load(); }
  // When acquire_for returned.
  Clock::time_point returned_at() const { return state_->returned_at; }
  std::uint64_t token() const { return state_->token; }
  std::string error() const { return state_->error; }
  // What `then` threw, if anything (read after finish()).
  std::string then_error() const { return state_->then_error; }
  void request_stop() { thread_.request_stop(); }

 private:
  struct State {
    std::atomic<bool> finished{false};
    std::atomic<int> result{-2};  // -2 pending, -1 threw, 0 false, 1 true
    Clock::time_point returned_at{};
    std::uint64_t token = 0;
    std::string error;
    std::string then_error;
  };
  std::shared_ptr<State> state_;
  std::jthread thread_;
};

// Waits until manager.inspect(name).waiters == n (bounded). Returns the last
// count seen. For a case whose subject is the count; a case that only times
// its steps by it calls require_waiter_count (preconditions.hpp).
std::size_t wait_for_waiters(LockManager& manager, std::string_view name, std::size_t n,
                             milliseconds bound = 5000ms);

// A parsed "key=value key=value" line as the helpers write it.
std::string field(std::string_view line, std::string_view key);

// Anchors: each test source defines one; main() calls them all so the linker
// keeps the object files (and their Catch2 registrations) of this static
// library.
void anchor_exclusion();
void anchor_fifo();
void anchor_timeouts();
void anchor_lease();
void anchor_tokens();
void anchor_inspect();
void anchor_names();
void anchor_stopped_head();
void anchor_store_faults();
void anchor_torture();
void anchor_lock_set();
void anchor_resource();
void anchor_watchdog();

}  // namespace baton::conformance::detail
