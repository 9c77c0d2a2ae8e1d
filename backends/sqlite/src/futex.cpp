#include "futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <ctime>

namespace baton::sqlite::detail {

void futex_wait(std::uint32_t& word, std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept {
  if (timeout <= std::chrono::nanoseconds::zero()) return;
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{static_cast<time_t>(s.count()), static_cast<long>((timeout - s).count())};
  // EAGAIN (the word moved), EINTR and ETIMEDOUT all mean "look again".
  ::syscall(SYS_futex, &word, FUTEX_WAIT, seen, &ts, nullptr, 0);
}

void futex_wake_all(std::uint32_t& word) noexcept { ::syscall(SYS_futex, &word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0); }

void bump_and_wake(std::uint32_t& word) noexcept {
  std::atomic_ref<std::uint32_t>(word).fetch_add(1);
  futex_wake_all(word);
}

bool watch(const std::uint32_t& word, std::uint32_t seen, std::chrono::nanoseconds limit) noexcept {
  const auto until = std::chrono::steady_clock::now() + limit;
  do {
    for (int i = 0; i < 64; ++i) {
      if (std::atomic_ref<const std::uint32_t>(word).load(std::memory_order_acquire) != seen) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

}  // namespace baton::sqlite::detail
