#include "wake.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <ctime>

namespace baton::sqlite::detail {
namespace {

// Layout, in 32-bit words: a header, the name slots, the ticket words. The
// magic doubles as a layout version: a file of another layout is left alone
// (and this process only polls).
constexpr std::uint32_t magic = 0x6261'7701;  // "baw" 1
constexpr std::size_t header_words = 16;
constexpr std::size_t name_slots = 1024;
constexpr std::size_t ticket_words = 4096;
constexpr std::size_t total_words = header_words + name_slots + ticket_words;
constexpr std::size_t file_size = total_words * sizeof(std::uint32_t);

// Header words after the magic.
constexpr std::size_t writes_word = 1;
constexpr std::size_t write_waiters_word = 2;

std::atomic_ref<std::uint32_t> at(std::uint32_t* p) noexcept { return std::atomic_ref<std::uint32_t>(*p); }

// Watches `word` for up to `limit` without sleeping. True when it moved past
// `seen`.
bool watch(const std::uint32_t* word, std::uint32_t seen, std::chrono::nanoseconds limit) noexcept {
  const auto until = std::chrono::steady_clock::now() + limit;
  do {
    for (int i = 0; i < 64; ++i) {
      if (std::atomic_ref<const std::uint32_t>(*word).load(std::memory_order_acquire) != seen) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

// FUTEX_WAIT on `word` while it holds `seen`, for at most `timeout`. Not
// FUTEX_PRIVATE: the word is shared with other processes through the file.
// EAGAIN (the word moved), EINTR and ETIMEDOUT all mean "look again".
void futex_wait(std::uint32_t* word, std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{static_cast<time_t>(s.count()), static_cast<long>((timeout - s).count())};
  ::syscall(SYS_futex, word, FUTEX_WAIT, seen, &ts, nullptr, 0);
}

// FNV-1a: stable across builds and processes (std::hash is not promised to be).
std::uint64_t name_hash(std::string_view name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : name) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::shared_ptr<WakeBoard> WakeBoard::open(const std::filesystem::path& database) noexcept {
  try {
    const std::string path = database.string() + "-wake";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) return nullptr;
    struct stat st {};
    bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    // Only ever grown, so two processes creating it at once agree.
    if (ok && static_cast<std::size_t>(st.st_size) < file_size) ok = ::ftruncate(fd, file_size) == 0;
    void* base = ok ? ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    ::close(fd);
    if (base == MAP_FAILED) return nullptr;
    std::shared_ptr<WakeBoard> board(new WakeBoard(base, file_size));
    std::uint32_t expected = 0;
    if (!at(board->base_).compare_exchange_strong(expected, magic) && expected != magic) return nullptr;
    return board;
  } catch (...) {
    return nullptr;
  }
}

WakeBoard::~WakeBoard() { ::munmap(base_, size_); }

std::uint32_t* WakeBoard::slot(std::string_view name) const noexcept {
  return base_ + header_words + name_hash(name) % name_slots;
}

std::uint32_t* WakeBoard::word(std::int64_t ticket) const noexcept {
  return base_ + header_words + name_slots + static_cast<std::uint64_t>(ticket) % ticket_words;
}

void WakeBoard::add_waiter(std::string_view name) noexcept { at(slot(name)).fetch_add(1); }

void WakeBoard::remove_waiter(std::string_view name) noexcept {
  // Never below zero: a reset may have zeroed the count under a waiter.
  auto count = at(slot(name));
  std::uint32_t n = count.load();
  while (n > 0 && !count.compare_exchange_weak(n, n - 1)) {
  }
}

std::uint32_t WakeBoard::waiters(std::string_view name) const noexcept { return at(slot(name)).load(); }

std::uint32_t WakeBoard::sequence(std::int64_t ticket) const noexcept { return at(word(ticket)).load(); }

void WakeBoard::sleep(std::int64_t ticket, std::uint32_t seen, std::chrono::nanoseconds timeout) const noexcept {
  if (timeout <= std::chrono::nanoseconds::zero()) return;
  futex_wait(word(ticket), seen, timeout);
}

bool WakeBoard::spin(std::int64_t ticket, std::uint32_t seen, std::chrono::nanoseconds limit) const noexcept {
  return watch(word(ticket), seen, limit);
}

void WakeBoard::wake(std::int64_t ticket) noexcept {
  std::uint32_t* w = word(ticket);
  at(w).fetch_add(1);
  ::syscall(SYS_futex, w, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

std::uint32_t WakeBoard::writes() const noexcept { return at(base_ + writes_word).load(); }

void WakeBoard::wait_for_write(std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept {
  if (timeout <= std::chrono::nanoseconds::zero()) return;
  std::uint32_t* word = base_ + writes_word;
  // Most write transactions last tens of microseconds: watch a little
  // before sleeping, as a wake-up costs about as much.
  if (watch(word, seen, std::min<std::chrono::nanoseconds>(timeout, std::chrono::microseconds(20)))) return;
  // Counted before the word is compared (inside FUTEX_WAIT), and wrote()
  // bumps the word before it reads the count: no wake-up is lost.
  at(base_ + write_waiters_word).fetch_add(1);
  futex_wait(word, seen, timeout);
  at(base_ + write_waiters_word).fetch_sub(1);
}

void WakeBoard::wrote() noexcept {
  std::uint32_t* word = base_ + writes_word;
  at(word).fetch_add(1);
  if (at(base_ + write_waiters_word).load() != 0) ::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

void WakeBoard::reset() noexcept {
  for (std::size_t i = header_words; i < total_words; ++i) at(base_ + i).store(0);
}

}  // namespace baton::sqlite::detail
