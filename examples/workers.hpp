// examples/workers.hpp: the process plumbing of the resource_* examples. The
// example program runs itself again as several worker processes
// (`PROGRAM --worker I ARG...`), waits for them all, then checks the data
// they changed. Not part of baton's API.
#pragma once

#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace example {

// The exit status of an example whose server is not configured: ctest's
// "skipped" (SKIP_RETURN_CODE 77), except under CI=true, where a backend
// left untested is a failure (1). Says why on stderr.
inline int skip_without_server(const char* program, const char* what) {
  const char* ci = std::getenv("CI");
  const bool in_ci = ci != nullptr && std::strcmp(ci, "true") == 0;
  std::fprintf(stderr, "%s: %s%s\n", program, what, in_ci ? "; CI=true, so this is a failure" : "; skipping");
  return in_ci ? 1 : 77;
}

// True when this process is a worker: argv is PROGRAM --worker I ARG...
inline bool is_worker(int argc, char** argv) { return argc >= 3 && std::strcmp(argv[1], "--worker") == 0; }

// Starts `/proc/self/exe --worker I args...`; 0 when it cannot.
inline pid_t start_worker(int i, const std::vector<std::string>& args) {
  std::vector<std::string> words{"/proc/self/exe", "--worker", std::to_string(i)};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ);
  if (error != 0) std::fprintf(stderr, "cannot start worker %d: %s\n", i, std::strerror(error));
  return error == 0 ? pid : 0;
}

// Starts `count` workers at once, each `/proc/self/exe --worker I args...`
// for I in [0, count), and waits for every one it started. True when all
// started and exited 0; each one that did not is reported on stderr.
inline bool run_workers(int count, const std::vector<std::string>& args) {
  std::vector<pid_t> pids;
  bool all_ok = true;
  for (int i = 0; i < count && all_ok; ++i) {
    const pid_t pid = start_worker(i, args);
    if (pid == 0) {
      all_ok = false;
    } else {
      pids.push_back(pid);
    }
  }
  for (std::size_t i = 0; i < pids.size(); ++i) {
    int status = 0;
    waitpid(pids[i], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "worker %zu failed (wait status %d)\n", i, status);
      all_ok = false;
    }
  }
  return all_ok;
}

}  // namespace example
