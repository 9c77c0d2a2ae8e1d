// Test support: child processes that never outlive a test, temp dirs, and
// bounded polling.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace baton::test {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// A child process in its own process group (so a kill reaches what it
// started too). The destructor SIGKILLs the group and reaps the child.
// Move-only.
class Process {
 public:
  // Runs argv[0] (a path or a name on $PATH) with `env` added to this
  // process's environment; stdout/stderr go to `output` if given.
  explicit Process(std::vector<std::string> argv, std::vector<std::string> env = {},
                   std::optional<std::filesystem::path> output = std::nullopt);
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&&) = delete;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `sig` to the child only, or to its whole group.
  void signal(int sig, bool group = false);
  // Exit code, or 128 + signal; nullopt if still running after `bound`.
  std::optional<int> wait_exit(milliseconds bound);
  bool running();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// A fresh directory, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& leaf) const { return path_ / leaf; }

 private:
  std::filesystem::path path_;
};

// Polls `pred` every `step` until true or `bound` passes; the last value.
bool eventually(milliseconds bound, const std::function<bool()>& pred, milliseconds step = 5ms);

// Milliseconds since `start` on the steady clock.
long long ms_since(std::chrono::steady_clock::time_point start);

void write_text(const std::filesystem::path& path, const std::string& text);
std::string read_text(const std::filesystem::path& path);

// For a test program that needs the server $`var` names: nullopt when it is
// set (or when only listing tests, --list*), else the exit code to return at
// once: 77 (ctest's skip) normally, 1 under CI=true, where an untested
// backend is a failure. Says why on stderr.
std::optional<int> server_or_skip(const char* program, const char* var, int argc, char** argv);

// A random lower-case hex string of `n` digits (unique test names).
std::string random_hex(int n = 12);

}  // namespace baton::test
