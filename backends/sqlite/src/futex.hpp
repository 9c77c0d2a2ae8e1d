// futex.hpp: sleeping on, and waking, a 32-bit word of the wake file.
//
// Not FUTEX_PRIVATE: the words are shared with other processes through the
// mapped file. A sleep ends when the word moves, on a wake, on a signal or
// at its timeout; every caller looks again at what it waits for.
#pragma once

#include <chrono>
#include <cstdint>

namespace baton::sqlite::detail {

// Sleeps while `word` holds `seen`, for at most `timeout`. Returns at once
// on a non-positive timeout.
void futex_wait(std::uint32_t& word, std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept;
// Wakes every process sleeping on `word`.
void futex_wake_all(std::uint32_t& word) noexcept;
// Increments `word`, then wakes every process sleeping on it.
void bump_and_wake(std::uint32_t& word) noexcept;
// Watches `word` for up to `limit` without sleeping: true when it moved
// past `seen`.
bool watch(const std::uint32_t& word, std::uint32_t seen, std::chrono::nanoseconds limit) noexcept;

}  // namespace baton::sqlite::detail
