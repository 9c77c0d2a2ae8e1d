// cli/run_signals.cpp: signal mask, signalfd and the lost-lease pipe of
// `baton run` (see run_signals.hpp).
#include "run_signals.hpp"

#include <fcntl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace baton::cli {

void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

Fd& Fd::operator=(Fd&& other) noexcept {
  std::swap(fd_, other.fd_);
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Signals::Signals() {
  // nohup(1) ignores SIGHUP on purpose: keep it ignored, for CMD too.
  struct sigaction old {};
  ::sigaction(SIGHUP, nullptr, &old);
  const bool hup_ignored = old.sa_handler == SIG_IGN;
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

std::vector<Signals::Arrival> Signals::read_all() const {
  std::vector<Arrival> out;
  signalfd_siginfo si;
  while (::read(fd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    out.push_back({static_cast<int>(si.ssi_signo), si.ssi_code == SI_KERNEL});
  }
  return out;
}

LostChannel::LostChannel() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw_errno("pipe2");
  read_fd = fds[0];
  write_fd = fds[1];
}

LostChannel::~LostChannel() {
  ::close(read_fd);
  ::close(write_fd);
}

void LostChannel::notify(std::string_view name, std::uint64_t token) noexcept {
  try {
    std::lock_guard guard(mu_);
    if (!first_) first_.emplace(std::string(name), token);
  } catch (...) {
    // Out of memory for the name: the loss itself is still reported.
  }
  lost.store(true);
  char c = 1;
  [[maybe_unused]] auto n = ::write(write_fd, &c, 1);
}

std::optional<std::pair<std::string, std::uint64_t>> LostChannel::first_lost() const {
  std::lock_guard guard(mu_);
  return first_;
}

void LostChannel::drain() const noexcept {
  char buf[64];
  while (::read(read_fd, buf, sizeof buf) > 0) {
  }
}

int poll_retry(pollfd* fds, nfds_t n, int timeout_ms) {
  for (;;) {
    int rc = ::poll(fds, n, timeout_ms);
    if (rc >= 0) return rc;
    if (errno != EINTR) throw_errno("poll");
  }
}

bool is_stop_signal(int signo) { return signo == SIGINT || signo == SIGTERM || signo == SIGHUP; }

std::string signal_name(int signo) {
  switch (signo) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "signal " + std::to_string(signo);
  }
}

}  // namespace baton::cli
