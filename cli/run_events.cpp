// cli/run_events.cpp: the messages and exit statuses of `baton run` (see
// run_events.hpp and docs/design.md §7.4).
#include "run_events.hpp"

#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include <baton/error.hpp>

#include "run_signals.hpp"

namespace baton::cli {

namespace {

// Fractional seconds as the user typed them ("0.5", "2").
std::string format_seconds(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

std::string lease_of(const std::string& name, std::uint64_t token) {
  return "lease of lock " + json_quoted(name) + " (token " + std::to_string(token) + ")";
}

}  // namespace

int report_interrupted(const std::string& name, int signo) {
  error_line("interrupted by " + signal_name(signo) + " while waiting for lock " + json_quoted(name));
  return 128 + signo;
}

int report_not_acquired(const RunArgs& args) {
  if (args.no_wait) {
    error_line("lock " + json_quoted(args.name) + " is busy");
  } else {
    error_line("timed out after " + format_seconds(*args.timeout) + " s waiting for lock " + json_quoted(args.name));
  }
  return exit_not_acquired;
}

int report_lost_before_start(Lock& lock, const std::string& name) {
  release_quietly(lock);
  error_line("lease of lock " + json_quoted(name) + " was lost before CMD started (--ttl too short?); CMD not run");
  return exit_lease_lost;
}

int report_cannot_exec(Lock& lock, const std::string& command, int error) {
  release_quietly(lock);
  if (error == ENOENT && command.find('/') == std::string::npos) {
    error_line(command + ": command not found");
  } else {
    error_line("cannot execute " + command + ": " + std::strerror(error));
  }
  return exit_cannot_exec;
}

void report_lost_while_running(const std::string& name, std::uint64_t token, pid_t pid) {
  error_line(lease_of(name, token) + " was lost while CMD ran (cleared, or expired); sent SIGTERM to CMD (pid " +
             std::to_string(pid) + ")");
}

int command_exit_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return exit_software;
}

int release_after_command(Lock& lock, const std::string& name, std::uint64_t token, bool lease_lost,
                          int command_status) {
  if (lease_lost) {
    release_quietly(lock);
    return exit_lease_lost;
  }
  try {
    lock.release();
  } catch (const LockLost&) {
    error_line(lease_of(name, token) + " was lost while CMD ran (found at release)");
    return exit_lease_lost;
  } catch (const std::exception& e) {
    error_line("warning: could not release lock " + json_quoted(name) + ": " + e.what());
  }
  return command_status;
}

void release_quietly(Lock& lock) noexcept {
  try {
    if (lock.holds() || lock.lost()) lock.release();
  } catch (...) {
  }
}

}  // namespace baton::cli
