#include <unistd.h>

#include <array>
#include <climits>
#include <cstdio>
#include <random>

#include "detail.hpp"

namespace baton::detail {
namespace {

std::string host_name() {
  std::array<char, HOST_NAME_MAX + 1> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return "unknown";
  return buf.data();
}

}  // namespace

Owner make_owner() {
  // Owner ids must never repeat across processes and restarts (a repeat would
  // let one instance renew or release another's grant), so they come from
  // the kernel's entropy rather than from pids or clocks.
  static thread_local std::random_device rd;
  std::array<char, 33> hex{};
  for (int i = 0; i < 4; ++i) {
    std::snprintf(hex.data() + 8 * i, 9, "%08x", static_cast<unsigned>(rd()));
  }
  static const std::string host = host_name();
  return Owner{std::string(hex.data(), 32), host, static_cast<std::int64_t>(::getpid())};
}

}  // namespace baton::detail
