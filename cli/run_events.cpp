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

// `lock "a"` for one name, `locks ["a","b"]` for several.
std::string locks_label(const LockSet& locks) {
  const auto& names = locks.names();
  if (names.size() == 1) return "lock " + json_quoted(names.front());
  std::string out = "locks [";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += json_quoted(names[i]);
  }
  out += ']';
  return out;
}

}  // namespace

int report_interrupted(const std::string& name, int signo) {
  error_line("interrupted by " + signal_name(signo) + " while waiting for lock " + json_quoted(name));
  return 128 + signo;
}

int report_not_acquired(const RunArgs& args, const std::string& name) {
  if (args.no_wait) {
    error_line("lock " + json_quoted(name) + " is busy");
  } else {
    error_line("timed out after " + format_seconds(*args.timeout) + " s waiting for lock " + json_quoted(name));
  }
  return exit_not_acquired;
}

int report_lost_before_start(LockSet& locks, const std::string& name) {
  release_quietly(locks);
  error_line("lease of lock " + json_quoted(name) + " was lost before CMD started (--ttl too short?); CMD not run");
  return exit_lease_lost;
}

int report_cannot_exec(LockSet& locks, const std::string& command, int error) {
  release_quietly(locks);
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

int release_after_command(LockSet& locks, const std::map<std::string, std::uint64_t>& tokens, bool lease_lost,
                          int command_status) {
  if (lease_lost) {
    release_quietly(locks);
    return exit_lease_lost;
  }
  try {
    locks.release();
  } catch (const LockLost&) {
    const auto lost = locks.lost_at_release();
    const std::string& name = lost.empty() ? locks.names().front() : lost.front();
    const auto token = tokens.find(name);
    const std::uint64_t lost_token = token == tokens.end() ? 0 : token->second;
    error_line(lease_of(name, lost_token) + " was lost while CMD ran (found at release)");
    return exit_lease_lost;
  } catch (const std::exception& e) {
    error_line("warning: could not release " + locks_label(locks) + ": " + e.what());
  }
  return command_status;
}

void release_quietly(LockSet& locks) noexcept {
  try {
    // Throws std::logic_error when the set holds nothing and has no loss
    // pending: nothing to release then.
    locks.release();
  } catch (...) {
  }
}

}  // namespace baton::cli
