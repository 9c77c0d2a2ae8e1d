// Internal support of the conformance suite: the suite under test, unique
// names, temp dirs, helper processes, file handshakes and waiter threads.
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

// ---- time -----------------------------------------------------------------

inline milliseconds ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t);
}

// Polls `pred` every few ms until it is true or `bound` passes. Returns the
// last value of `pred`.
bool eventually(milliseconds bound, const std::function<bool()>& pred, milliseconds step = 2ms);

// ---- files ----------------------------------------------------------------

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(std::string_view leaf) const { return path_ / leaf; }

 private:
  fs::path path_;
};

// Writes `content` to `path` atomically (a temp file renamed over it), so a
// reader never sees a half-written file.
void write_file(const fs::path& path, std::string_view content);
// The whole file, or nullopt if it does not exist.
std::optional<std::string> read_file(const fs::path& path);
// Appends `line` + '\n' with one write(2) on an O_APPEND descriptor.
void append_line(const fs::path& path, std::string_view line);
std::vector<std::string> read_lines(const fs::path& path);
bool wait_for_file(const fs::path& path, milliseconds bound);

// ---- helper processes -------------------------------------------------------

// A helper process: this binary re-executed (/proc/self/exe) with
// `--baton-helper <parent pid> <task> <args...>`. It builds its backend with
// the same suite().make_backend. The destructor SIGKILLs and reaps it if it
// is still running, so a failing test never leaves a helper behind.
class Helper {
 public:
  Helper(std::string task, std::vector<std::string> args);
  ~Helper();
  Helper(Helper&& other) noexcept;
  Helper& operator=(Helper&&) = delete;
  Helper(const Helper&) = delete;
  Helper& operator=(const Helper&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& description() const { return description_; }
  // Sends `sig` (no-op once reaped).
  void signal(int sig);
  // SIGKILLs and reaps the process; returns when it is gone.
  void kill();
  // Waits up to `bound` for the process to exit. Returns its exit code, or
  // 128 + signal number if a signal ended it, or nullopt on timeout.
  std::optional<int> wait_exit(milliseconds bound);
  bool running();

 private:
  bool reap(bool block);

  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string description_;
};

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
// count seen.
std::size_t wait_for_waiters(LockManager& manager, std::string_view name, std::size_t n,
                             milliseconds bound = 5000ms);

// A parsed "key=value key=value" line as the helpers write it.
std::string field(std::string_view line, std::string_view key);

// Catch2's session, from catch_impl.cpp (the only file that sees its
// declaration).
int run_catch_session(int argc, char** argv);

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

}  // namespace baton::conformance::detail
