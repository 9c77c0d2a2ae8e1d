#include "wake_board.hpp"

#include <algorithm>
#include <atomic>

#include "futex.hpp"

namespace baton::sqlite::detail {

std::shared_ptr<WakeBoard> WakeBoard::open(const std::filesystem::path& database) noexcept {
  try {
    auto mapping = WakeMapping::open(database);
    if (!mapping) return nullptr;
    return std::shared_ptr<WakeBoard>(new WakeBoard(std::move(mapping)));
  } catch (...) {
    return nullptr;
  }
}

WakeBoard::WakeBoard(std::unique_ptr<WakeMapping> mapping) noexcept
    : mapping_(std::move(mapping)),
      file_(mapping_->file()),
      counts_(file_),
      tickets_(file_),
      joins_(mapping_.get()) {}

void WakeBoard::add_waiter(std::string_view name) noexcept { counts_.of(name).fetch_add(1); }

void WakeBoard::remove_waiter(std::string_view name) noexcept {
  // Never below zero: a reset may have zeroed the count under a waiter.
  auto count = counts_.of(name);
  std::uint32_t n = count.load();
  while (n > 0 && !count.compare_exchange_weak(n, n - 1)) {
  }
}

std::uint32_t WakeBoard::waiters(std::string_view name) const noexcept { return counts_.of(name).load(); }

std::uint32_t WakeBoard::wake_sequence(std::int64_t ticket) const noexcept {
  return atomic(tickets_.wake_word(ticket)).load();
}

void WakeBoard::sleep(std::int64_t ticket, std::uint32_t seen, std::chrono::nanoseconds timeout) const noexcept {
  futex_wait(tickets_.wake_word(ticket), seen, timeout);
}

void WakeBoard::wake(std::int64_t ticket) noexcept {
  bump_and_wake(tickets_.wake_word(ticket));
  joins_.wake_poster_queued_as(ticket);
}

void WakeBoard::record_grant_and_wake(std::int64_t ticket) noexcept {
  if (mapping_->has_join_region()) {
    tickets_.grant_word(ticket).store(static_cast<std::uint64_t>(ticket), std::memory_order_release);
  }
  wake(ticket);
}

bool WakeBoard::granted(std::int64_t ticket) const noexcept {
  return mapping_->has_join_region() &&
         tickets_.grant_word(ticket).load(std::memory_order_acquire) == static_cast<std::uint64_t>(ticket);
}

std::uint32_t WakeBoard::writes_ended() const noexcept { return atomic(file_.header.writes_ended).load(); }

void WakeBoard::wait_for_write_end(std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept {
  if (timeout <= std::chrono::nanoseconds::zero()) return;
  std::uint32_t& word = file_.header.writes_ended;
  // Most write transactions last tens of microseconds: watch a little
  // before sleeping, as a wake-up costs about as much.
  if (watch(word, seen, std::min<std::chrono::nanoseconds>(timeout, std::chrono::microseconds(20)))) return;
  // Counted before the word is compared (inside FUTEX_WAIT), and
  // write_ended() bumps the word before it reads the count: no wake-up is
  // lost.
  atomic(file_.header.write_waiters).fetch_add(1);
  futex_wait(word, seen, timeout);
  atomic(file_.header.write_waiters).fetch_sub(1);
}

void WakeBoard::write_ended() noexcept {
  atomic(file_.header.writes_ended).fetch_add(1);
  if (atomic(file_.header.write_waiters).load() != 0) futex_wake_all(file_.header.writes_ended);
}

void WakeBoard::reset() noexcept {
  for (auto& count : file_.waiter_counts) atomic(count).store(0);
  for (auto& word : file_.wake_words) atomic(word).store(0);
  if (!mapping_->has_join_region()) return;
  joins_.reset();
  for (auto& word : file_.grant_words) atomic(word).store(0);
}

}  // namespace baton::sqlite::detail
