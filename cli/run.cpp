// cli/run.cpp: `baton run NAME [--timeout SEC | --no-wait] [--ttl SEC] -- CMD [ARG...]`.
//
// Signals: SIGINT, SIGTERM, SIGHUP and SIGCHLD are blocked before any thread
// starts (the manager's threads inherit the mask) and read from a signalfd by
// the main thread, which waits in poll() on it, on the "acquire finished"
// eventfd and on the "lease lost" pipe written by the on_lost callback.
//  - While waiting for the lock, SIGINT/SIGTERM/SIGHUP cancel the acquire
//    (stop_token) and baton exits 128+sig without running CMD.
//  - While CMD runs they are forwarded to CMD (unless the terminal already
//    sent them to the whole foreground process group, CMD included), and the
//    lock is released when CMD ends; baton exits with CMD's status.
//  - When the lease is lost, CMD gets SIGTERM, then SIGKILL after a grace
//    period, and baton exits 76.
// CMD starts with the original signal mask and default dispositions for the
// signals baton handles.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <baton/backend.hpp>
#include <baton/config.hpp>
#include <baton/error.hpp>
#include <baton/lock.hpp>
#include <baton/lock_info.hpp>
#include <baton/lock_manager.hpp>
#include <baton/name.hpp>
#include <baton/options.hpp>
#include <baton/registry.hpp>

#include "backends.hpp"
#include "cli.hpp"

extern char** environ;

namespace baton::cli {

namespace {

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The signals baton handles itself, read through a signalfd.
struct Signals {
  sigset_t original_mask;
  sigset_t handled;
  Fd fd;

  Signals() {
    // nohup(1) ignores SIGHUP on purpose: keep it ignored, for CMD too.
    struct sigaction old {};
    ::sigaction(SIGHUP, nullptr, &old);
    bool hup_ignored = old.sa_handler == SIG_IGN;
    sigemptyset(&handled);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGCHLD);
    if (!hup_ignored) sigaddset(&handled, SIGHUP);
    // A non-interactive shell starts background jobs with SIGINT ignored, and
    // a blocked, ignored signal never reaches a signalfd: baton handles
    // SIGINT/SIGTERM whatever it inherited (and SIGCHLD must not be ignored,
    // or CMD's status would be lost).
    for (int s : {SIGINT, SIGTERM, SIGCHLD, SIGHUP}) {
      if (sigismember(&handled, s)) ::signal(s, SIG_DFL);
    }
    if (int rc = ::pthread_sigmask(SIG_BLOCK, &handled, &original_mask); rc != 0) {
      errno = rc;
      throw_errno("pthread_sigmask");
    }
    fd = Fd(::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
    if (fd.get() < 0) throw_errno("signalfd");
  }

  // The signals that arrived, with whether they came from the terminal (the
  // kernel sends those to the whole foreground process group).
  struct Arrival {
    int signo;
    bool from_kernel;
  };
  std::vector<Arrival> read_all() const {
    std::vector<Arrival> out;
    signalfd_siginfo si;
    while (::read(fd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      out.push_back({static_cast<int>(si.ssi_signo), si.ssi_code == SI_KERNEL});
    }
    return out;
  }
};

// Written by the on_lost callback (on the manager's renewal thread), read by
// the main loop. Shared with the callback, so it lives as long as either.
struct LostChannel {
  int read_fd = -1;
  int write_fd = -1;
  std::atomic<bool> lost{false};

  LostChannel() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw_errno("pipe2");
    read_fd = fds[0];
    write_fd = fds[1];
  }
  LostChannel(const LostChannel&) = delete;
  LostChannel& operator=(const LostChannel&) = delete;
  ~LostChannel() {
    ::close(read_fd);
    ::close(write_fd);
  }
  void notify() noexcept {
    lost.store(true);
    char c = 1;
    [[maybe_unused]] auto n = ::write(write_fd, &c, 1);
  }
  void drain() const noexcept {
    char buf[64];
    while (::read(read_fd, buf, sizeof buf) > 0) {
    }
  }
};

int poll_retry(pollfd* fds, nfds_t n, int timeout_ms) {
  for (;;) {
    int rc = ::poll(fds, n, timeout_ms);
    if (rc >= 0) return rc;
    if (errno != EINTR) throw_errno("poll");
  }
}

std::string signal_name(int signo) {
  switch (signo) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "signal " + std::to_string(signo);
  }
}

bool is_stop_signal(int signo) { return signo == SIGINT || signo == SIGTERM || signo == SIGHUP; }

std::string format_seconds(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// The outcome of waiting for the lock.
struct Acquired {
  bool got = false;
  int interrupted_by = 0;  // a signal number, or 0
};

Acquired acquire(Lock& lock, const RunArgs& args, const Signals& signals) {
  Acquired result;
  if (args.no_wait) {
    result.got = lock.try_acquire();
    return result;
  }
  Clock::time_point deadline = Clock::time_point::max();
  if (args.timeout && *args.timeout < 1e9) {
    deadline = Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(*args.timeout * 1000.0)));
  }

  Fd done(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (done.get() < 0) throw_errno("eventfd");
  std::exception_ptr error;
  bool got = false;
  {
    std::jthread waiter([&](std::stop_token stop) {
      try {
        got = lock.acquire_until(deadline, stop);
      } catch (...) {
        error = std::current_exception();
      }
      std::uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(done.get(), &one, sizeof one);
    });
    for (;;) {
      pollfd fds[2] = {{signals.fd.get(), POLLIN, 0}, {done.get(), POLLIN, 0}};
      poll_retry(fds, 2, -1);
      if (fds[0].revents != 0) {
        for (const auto& a : signals.read_all()) {
          if (is_stop_signal(a.signo) && result.interrupted_by == 0) result.interrupted_by = a.signo;
        }
      }
      if (result.interrupted_by != 0) {
        waiter.request_stop();
        break;
      }
      if (fds[1].revents != 0) break;
    }
  }  // joins the waiter
  if (result.interrupted_by != 0) {
    if (got) {
      try {
        lock.release();
      } catch (...) {
      }
    }
    return result;
  }
  if (error) std::rethrow_exception(error);
  result.got = got;
  return result;
}

// The environment of CMD: ours, with BATON_LOCK_NAME and BATON_FENCING_TOKEN
// (replacing any inherited ones).
std::vector<std::string> command_environment(const std::string& name, std::uint64_t token) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view v(*e);
    if (v.starts_with("BATON_LOCK_NAME=") || v.starts_with("BATON_FENCING_TOKEN=")) continue;
    env.emplace_back(v);
  }
  env.push_back("BATON_LOCK_NAME=" + name);
  env.push_back("BATON_FENCING_TOKEN=" + std::to_string(token));
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void release_quietly(Lock& lock) noexcept {
  try {
    if (lock.holds() || lock.lost()) lock.release();
  } catch (...) {
  }
}

}  // namespace

int run(const RunArgs& args) {
  // Before any thread exists: every thread the manager starts inherits the mask.
  Signals signals;

  Config config = find_config(args.config);
  LockManager manager = open_manager(config);

  auto lost = std::make_shared<LostChannel>();
  LockOptions options;
  options.ttl = args.ttl;
  options.on_lost = [lost](std::string_view, std::uint64_t) { lost->notify(); };
  Lock lock = manager.lock(args.name, options);

  Acquired acquired = acquire(lock, args, signals);
  if (acquired.interrupted_by != 0) {
    error_line("interrupted by " + signal_name(acquired.interrupted_by) + " while waiting for lock " +
               json_quoted(args.name));
    return 128 + acquired.interrupted_by;
  }
  if (!acquired.got) {
    if (args.no_wait) {
      error_line("lock " + json_quoted(args.name) + " is busy");
    } else {
      error_line("timed out after " + format_seconds(*args.timeout) + " s waiting for lock " + json_quoted(args.name));
    }
    return exit_not_acquired;
  }

  const std::uint64_t token = lock.token();
  if (lost->lost.load()) {
    release_quietly(lock);
    error_line("lease of lock " + json_quoted(args.name) + " was lost before CMD started (--ttl too short?); CMD not run");
    return exit_lease_lost;
  }

  // Start CMD.
  std::vector<std::string> env = command_environment(args.name, token);
  std::vector<char*> envp = c_strings(env);
  std::vector<std::string> argv_strings = args.command;
  std::vector<char*> argv = c_strings(argv_strings);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&attr, &signals.original_mask);
  posix_spawnattr_setsigdefault(&attr, &signals.handled);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], nullptr, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    release_quietly(lock);
    if (rc == ENOENT && args.command[0].find('/') == std::string::npos) {
      error_line(args.command[0] + ": command not found");
    } else {
      error_line("cannot execute " + args.command[0] + ": " + std::strerror(rc));
    }
    return exit_cannot_exec;
  }

  // Supervise CMD until it exits.
  int wstatus = 0;
  bool lease_lost = false;
  std::optional<Clock::time_point> kill_at;
  for (;;) {
    pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) throw_errno("waitpid");

    int timeout_ms = -1;
    if (kill_at) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*kill_at - Clock::now()).count();
      timeout_ms = static_cast<int>(std::max<long long>(0, left));
    }
    pollfd fds[2] = {{signals.fd.get(), POLLIN, 0}, {lost->read_fd, POLLIN, 0}};
    poll_retry(fds, 2, timeout_ms);

    if (fds[1].revents != 0) {
      lost->drain();
      if (!lease_lost) {
        lease_lost = true;
        ::kill(pid, SIGTERM);
        kill_at = Clock::now() + kill_grace;
        error_line("lease of lock " + json_quoted(args.name) + " (token " + std::to_string(token) +
                   ") was lost while CMD ran (cleared, or expired); sent SIGTERM to CMD (pid " +
                   std::to_string(pid) + ")");
      }
    }
    if (fds[0].revents != 0) {
      for (const auto& a : signals.read_all()) {
        // A terminal's ^C already reached CMD (same process group): do not
        // deliver it twice.
        if (is_stop_signal(a.signo) && !a.from_kernel) ::kill(pid, a.signo);
      }
    }
    if (kill_at && Clock::now() >= *kill_at) {
      ::kill(pid, SIGKILL);
      kill_at.reset();
    }
  }

  int status = exit_software;
  if (WIFEXITED(wstatus)) {
    status = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    status = 128 + WTERMSIG(wstatus);
  }

  if (lease_lost) {
    release_quietly(lock);
    return exit_lease_lost;
  }
  try {
    lock.release();
  } catch (const LockLost&) {
    error_line("lease of lock " + json_quoted(args.name) + " (token " + std::to_string(token) +
               ") was lost while CMD ran (found at release)");
    return exit_lease_lost;
  } catch (const std::exception& e) {
    // CMD ran to its end under the lock; the grant will expire with its lease.
    error_line("warning: could not release lock " + json_quoted(args.name) + ": " + e.what());
  }
  return status;
}

}  // namespace baton::cli
