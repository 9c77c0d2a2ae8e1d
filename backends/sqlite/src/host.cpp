#include "host.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <string>

#include <fcntl.h>
#include <pthread.h>

#include <sys/types.h>
#include <unistd.h>

namespace baton::sqlite::detail {
namespace {

struct StatFields {
  std::int64_t pid = 0;
  char state = '?';
  std::int64_t start = 0;
};

// Parses /proc/<pid>/stat. The command name (field 2) may contain spaces and
// parentheses, so fields are counted from the last ')'. Plain read(2) into a
// stack buffer: this runs inside write transactions, so it must be cheap.
std::optional<StatFields> read_stat(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char text[1024];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return std::nullopt;
  text[n] = '\0';
  StatFields out;
  char* end = nullptr;
  out.pid = std::strtoll(text, &end, 10);
  if (end == text) return std::nullopt;
  char* p = std::strrchr(text, ')');
  if (p == nullptr) return std::nullopt;
  ++p;
  // Field 3 is the state; field 22 the start time.
  for (int index = 3; index <= 22; ++index) {
    while (*p == ' ') ++p;
    if (*p == '\0') return std::nullopt;
    if (index == 3) out.state = *p;
    if (index == 22) {
      out.start = std::strtoll(p, &end, 10);
      if (end == p) return std::nullopt;
      return out;
    }
    while (*p != ' ' && *p != '\0') ++p;
  }
  return std::nullopt;
}

}  // namespace

std::int64_t boottime_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::optional<std::int64_t> lease_end(std::int64_t now, std::chrono::milliseconds ttl) noexcept {
  if (ttl == std::chrono::milliseconds::max() || ttl.count() < 0) return std::nullopt;
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  if (ttl.count() > (max - now) / 1'000'000) return std::nullopt;
  return now + ttl.count() * 1'000'000;
}

std::chrono::steady_clock::time_point boottime_to_steady(std::int64_t boot_ns, std::int64_t now_boot,
                                                         std::chrono::steady_clock::time_point now) noexcept {
  const auto delta = std::chrono::nanoseconds(boot_ns - now_boot);
  if (delta > std::chrono::hours(24 * 365)) return std::chrono::steady_clock::time_point::max();
  return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(delta);
}

std::int64_t wall_ms() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

std::string read_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (in >> id && !id.empty()) return id;
  return "unknown-boot";
}

std::string read_pid_namespace() {
  char buffer[256];
  ssize_t n = readlink("/proc/self/ns/pid", buffer, sizeof buffer - 1);
  if (n <= 0) return {};
  // /proc must show this process under the pid kill() uses, or the start
  // times read from it would belong to other processes.
  auto self = read_stat("/proc/self/stat");
  if (!self || self->pid != static_cast<std::int64_t>(getpid())) return {};
  return std::string(buffer, static_cast<std::size_t>(n));
}

namespace {
// self_process()'s cache. getpid() is a system call (glibc stopped caching
// it), and a hand-off asked for our pid several times: a fork handler marks
// the cache stale in the child instead.
std::mutex self_mu;
ProcessId self_cached;
std::atomic<bool> self_valid{false};
}  // namespace

ProcessId self_process() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, [] { self_valid.store(false, std::memory_order_relaxed); });
    return true;
  }();
  (void)registered;
  std::lock_guard lock(self_mu);
  if (!self_valid.load(std::memory_order_relaxed)) {
    const std::int64_t pid = getpid();
    self_cached.pid = pid;
    self_cached.start.reset();
    if (auto stat = read_stat("/proc/self/stat"); stat && stat->pid == pid) self_cached.start = stat->start;
    self_valid.store(true, std::memory_order_relaxed);
  }
  return self_cached;
}

bool process_gone(std::int64_t pid, std::optional<std::int64_t> start) {
  if (pid <= 0 || pid > 0x7fffffff) return false;
  // Ourselves: the start time we read once, no system call.
  if (const auto self = self_process(); pid == self.pid) return start && self.start && *start != *self.start;
  // Whether the pid still runs the same process (not a reused pid, not a
  // zombie) takes kill() and a read of /proc, inside write transactions,
  // several times per hand-off. A process seen alive is trusted for a
  // moment: that delays noticing its death by at most `trust`, against
  // leases and heartbeats of seconds. The memory is the process's, not each
  // thread's, so that with many waiter threads a release still finds the
  // answer remembered instead of reading /proc inside its write transaction.
  constexpr std::int64_t trust_ns = 20'000'000;
  struct Seen {
    std::int64_t pid = 0;
    std::optional<std::int64_t> start;
    std::int64_t at = 0;  // boottime ns of the last read
  };
  static std::mutex seen_mu;
  static std::array<Seen, 16> seen{};
  static std::size_t next_slot = 0;
  const auto now = boottime_ns();
  {
    std::lock_guard lock(seen_mu);
    for (const auto& s : seen) {
      if (s.pid == pid && s.start == start && now - s.at < trust_ns) return false;
    }
  }
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return true;
  // The leader thread's own stat, not the process's: /proc/<pid>/stat sums
  // the CPU time of every thread, so in a process of N threads it costs O(N),
  // and probes run inside write transactions. The leader's state and start
  // time are the process's.
  const auto p = std::to_string(pid);
  auto stat = read_stat(("/proc/" + p + "/task/" + p + "/stat").c_str());
  if (!stat || stat->pid != pid) return false;
  if (stat->state == 'Z' || stat->state == 'X') return true;
  if (start && *start != stat->start) return true;
  std::lock_guard lock(seen_mu);
  seen[next_slot] = Seen{pid, start, now};
  next_slot = (next_slot + 1) % seen.size();
  return false;
}

}  // namespace baton::sqlite::detail
