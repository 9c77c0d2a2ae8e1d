// Support for baton's own tests and for the conformance library: temp dirs,
// bounded polling, file handshakes, unique names, child processes that never
// outlive a test, and the skip rule for tests that need a server.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace baton::test {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// ---- time -------------------------------------------------------------------

// Milliseconds since `start` on the steady clock.
inline milliseconds ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
}

// Polls `pred` every `step` until it is true or `bound` passes. Returns the
// last value of `pred`.
bool eventually(milliseconds bound, const std::function<bool()>& pred, milliseconds step = 2ms);

// ---- files ------------------------------------------------------------------

// A fresh directory under $TMPDIR (or /tmp) named `prefix`-XXXXXX, removed
// with its contents.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "baton-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view leaf) const { return path_ / leaf; }

 private:
  std::filesystem::path path_;
};

// Writes `content` to `path` atomically (a temp file renamed over it), so a
// reader never sees a half-written file.
void write_file(const std::filesystem::path& path, std::string_view content);
// The whole file, or nullopt if it does not exist.
std::optional<std::string> read_file(const std::filesystem::path& path);
// Appends `line` + '\n' with one write(2) on an O_APPEND descriptor.
void append_line(const std::filesystem::path& path, std::string_view line);
// The file's non-empty lines (none if it does not exist).
std::vector<std::string> read_lines(const std::filesystem::path& path);
bool wait_for_file(const std::filesystem::path& path, milliseconds bound);

// ---- names ------------------------------------------------------------------

// A random lower-case hex string of `digits` digits (unique test names).
std::string random_hex(std::size_t digits = 12);

// ---- child processes --------------------------------------------------------

// A child process in its own process group (so a kill reaches what it
// started too), with stdin on /dev/null, default signal handling, and no
// descriptor of this process beyond stdout/stderr (no database file or
// server connection of the test may keep a lock or a session alive). The
// destructor SIGKILLs the group and reaps the child if it is still running,
// so a failing test never leaves one behind. Move-only.
class Process {
 public:
  // Runs argv[0] (a path or a name on $PATH) with `env` ("NAME=value")
  // added to this process's environment; stdout/stderr go to `output` if
  // given.
  explicit Process(std::vector<std::string> argv, std::vector<std::string> env = {},
                   std::optional<std::filesystem::path> output = std::nullopt);
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&&) = delete;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // The command line, for messages.
  const std::string& description() const { return description_; }
  // Sends `sig` to the child only, or to its whole group (no-op once reaped).
  void signal(int sig, bool group = false);
  // SIGSTOPs the child (not its group) and waits up to `bound` until the
  // kernel shows it stopped (/proc/<pid>/stat state T), so that what the test
  // does next really happens while the child cannot react. False if it did
  // not stop in time (or is gone).
  bool stop(milliseconds bound = 2000ms);
  // SIGCONTs the child (not its group). No-op once reaped.
  void resume();
  // SIGKILLs and reaps the child; returns when it is gone.
  void kill();
  // Waits up to `bound` for the child to exit. Returns its exit code, or
  // 128 + signal number if a signal ended it, or nullopt on timeout.
  std::optional<int> wait_exit(milliseconds bound);
  bool running();

 private:
  bool reap(bool block);

  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string description_;
};

// ---- servers ----------------------------------------------------------------

// For a test program that needs the server $`var` names: nullopt when it is
// set (or when only listing tests, --list*), else the exit code to return at
// once: 77 (ctest's skip) normally, 1 under CI=true, where an untested
// backend is a failure. Says why on stderr.
std::optional<int> server_or_skip(const char* program, const char* var, int argc, char** argv);

}  // namespace baton::test
