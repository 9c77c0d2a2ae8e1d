#include "process.hpp"

#include <time.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>

namespace baton_flock {

namespace {

struct StatFields {
  char state = '?';
  std::uint64_t start = 0;
};

// Parses /proc/<pid>/stat. The command (field 2) is in parentheses and may
// itself hold spaces and ')', so fields are counted from the last ')'.
std::optional<StatFields> read_stat(std::int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return std::nullopt;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(close + 1));
  StatFields out;
  rest >> out.state;  // field 3
  std::string skip;
  for (int field = 4; field < 22; ++field) rest >> skip;
  rest >> out.start;  // field 22
  if (!rest) return std::nullopt;
  return out;
}

}  // namespace

ProcessId self_process() {
  static std::mutex mu;
  static ProcessId cached;
  std::lock_guard lock(mu);
  const std::int64_t pid = ::getpid();
  if (cached.pid != pid) {
    const auto stat = read_stat(pid);
    cached = ProcessId{host_name(), pid, stat ? stat->start : 0};
  }
  return cached;
}

bool is_alive(const ProcessId& p) {
  if (p.host != host_name()) return true;
  if (p.pid <= 0) return false;
  if (p.pid == ::getpid()) return true;
  const auto stat = read_stat(p.pid);
  if (!stat) {
    // Gone for sure only when the /proc entry itself is absent.
    return ::access(("/proc/" + std::to_string(p.pid)).c_str(), F_OK) == 0;
  }
  if (stat->state == 'Z' || stat->state == 'X') return false;
  return stat->start == p.start;
}

std::int64_t boottime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

const std::string& host_name() {
  static const std::string name = [] {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    return std::string(buf);
  }();
  return name;
}

}  // namespace baton_flock
