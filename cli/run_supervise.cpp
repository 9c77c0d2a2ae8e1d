// cli/run_supervise.cpp: the loop that waits on CMD (see run_supervise.hpp).
//
// The loop reaps CMD with waitpid(WNOHANG), then sleeps in poll() on the
// signalfd (SIGCHLD wakes it when CMD exits) and on the lost-lease pipe,
// with a timeout only while a SIGKILL is due.
#include "run_supervise.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>

#include <baton/options.hpp>

#include "cli.hpp"
#include "run_events.hpp"

namespace baton::cli {

namespace {

class Supervisor {
 public:
  Supervisor(pid_t pid, const Signals& signals, LostChannel& lost) : pid_(pid), signals_(signals), lost_(lost) {}

  CommandEnd run() {
    CommandEnd end;
    while (!reaped(end.wait_status)) {
      pollfd fds[2] = {{signals_.fd.get(), POLLIN, 0}, {lost_.read_fd, POLLIN, 0}};
      poll_retry(fds, 2, poll_timeout_ms());
      if (fds[1].revents != 0) on_lease_lost();
      if (fds[0].revents != 0) forward_signals();
      kill_if_grace_over();
    }
    end.lease_lost = lease_lost_;
    return end;
  }

 private:
  // True once CMD has exited, with its status in `wait_status`.
  bool reaped(int& wait_status) const {
    const pid_t r = ::waitpid(pid_, &wait_status, WNOHANG);
    if (r < 0 && errno != EINTR) throw_errno("waitpid");
    return r == pid_;
  }

  // Until the SIGKILL is due, or for ever when none is.
  int poll_timeout_ms() const {
    if (!kill_at_) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*kill_at_ - Clock::now()).count();
    return static_cast<int>(std::max<long long>(0, left));
  }

  // The first loss sends SIGTERM and schedules the SIGKILL; later ones only
  // empty the pipe.
  void on_lease_lost() {
    lost_.drain();
    if (lease_lost_) return;
    lease_lost_ = true;
    ::kill(pid_, SIGTERM);
    kill_at_ = Clock::now() + kill_grace;
    const auto lost = lost_.first_lost();
    report_lost_while_running(lost ? lost->first : std::string(), lost ? lost->second : 0, pid_);
  }

  // A terminal's ^C already reached CMD (same process group): it is not
  // delivered twice.
  void forward_signals() const {
    for (const auto& arrival : signals_.read_all()) {
      if (is_stop_signal(arrival.signo) && !arrival.from_kernel) ::kill(pid_, arrival.signo);
    }
  }

  void kill_if_grace_over() {
    if (kill_at_ && Clock::now() >= *kill_at_) {
      ::kill(pid_, SIGKILL);
      kill_at_.reset();
    }
  }

  const pid_t pid_;
  const Signals& signals_;
  LostChannel& lost_;
  bool lease_lost_ = false;
  std::optional<Clock::time_point> kill_at_;
};

}  // namespace

CommandEnd supervise_command(pid_t pid, const Signals& signals, LostChannel& lost) {
  return Supervisor(pid, signals, lost).run();
}

}  // namespace baton::cli
