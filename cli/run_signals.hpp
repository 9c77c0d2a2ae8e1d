// cli/run_signals.hpp: the descriptors `baton run` waits on in poll().
//
// Signals: SIGINT, SIGTERM, SIGHUP and SIGCHLD are blocked before any thread
// starts (the manager's threads inherit the mask) and read from a signalfd
// by the main thread. A lost lease reaches the main thread through a pipe
// that the on_lost callback writes from the manager's renewal thread.
#pragma once

#include <poll.h>
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace baton::cli {

// Throws std::system_error for errno, naming the call that failed.
[[noreturn]] void throw_errno(const char* what);

// Owns one file descriptor, closed on destruction. Move-assignable only.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&& other) noexcept;
  ~Fd();
  int get() const { return fd_; }

 private:
  int fd_;
};

// The signals baton handles itself, blocked and read through a signalfd.
// Construct it before any thread exists, so that every thread inherits the
// mask and no handled signal is delivered the default way.
struct Signals {
  sigset_t original_mask;  // CMD starts with this mask
  sigset_t handled;        // CMD starts with these at their default action
  Fd fd;

  Signals();

  // One signal read from the signalfd. `from_kernel` marks a signal the
  // terminal sent to the whole foreground process group (CMD included).
  struct Arrival {
    int signo;
    bool from_kernel;
  };
  // Every signal pending on the signalfd; never blocks.
  std::vector<Arrival> read_all() const;
};

// Written by the on_lost callback (on the manager's renewal thread), read by
// the main loop. Shared with the callback, so it lives as long as either.
struct LostChannel {
  int read_fd = -1;
  int write_fd = -1;
  std::atomic<bool> lost{false};

  LostChannel();
  LostChannel(const LostChannel&) = delete;
  LostChannel& operator=(const LostChannel&) = delete;
  ~LostChannel();
  // Marks the lease of lock `name` (grant `token`) lost and makes read_fd
  // readable. Called from the on_lost callback, on the renewal thread; the
  // first loss is the one kept.
  void notify(std::string_view name, std::uint64_t token) noexcept;
  // The first lock whose lease was lost and its token; nullopt before any.
  std::optional<std::pair<std::string, std::uint64_t>> first_lost() const;
  // Empties the pipe, so that poll() sleeps again.
  void drain() const noexcept;

 private:
  mutable std::mutex mu_;
  std::optional<std::pair<std::string, std::uint64_t>> first_;
};

// poll(), restarted after EINTR; throws on any other failure.
int poll_retry(pollfd* fds, nfds_t n, int timeout_ms);

// SIGINT, SIGTERM and SIGHUP: the signals that stop a wait or reach CMD.
bool is_stop_signal(int signo);

// "SIGINT", "SIGTERM", "SIGHUP", else "signal N": for messages.
std::string signal_name(int signo);

}  // namespace baton::cli
