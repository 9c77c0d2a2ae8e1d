#include "write_gate.hpp"

#include <unistd.h>

#include <condition_variable>
#include <map>
#include <string>

#include "wake_board.hpp"

namespace baton::sqlite::detail {

// On the waiter's stack while it is in line; linked and admitted under mu_.
struct WriteGate::Waiter {
  std::condition_variable_any cv;
  Waiter* next = nullptr;
  Waiter* prev = nullptr;
  bool admitted = false;
};

std::shared_ptr<WriteGate> WriteGate::for_database(const std::filesystem::path& path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<WriteGate>> gates;
  std::lock_guard<std::mutex> guard(mu);
  for (auto it = gates.begin(); it != gates.end();) {
    it = it->second.expired() ? gates.erase(it) : std::next(it);
  }
  // Keyed by pid too: a child forked while a thread of its parent held or
  // waited at the gate inherits that state, which nobody in the child will
  // ever end; its backends get a gate of their own.
  auto& slot = gates[std::to_string(::getpid()) + ":" + path.string()];
  if (auto gate = slot.lock()) return gate;
  auto gate = std::make_shared<WriteGate>();
  slot = gate;
  return gate;
}

GateEntry WriteGate::enter(Clock::time_point deadline, const std::stop_token* stop,
                           std::chrono::milliseconds stall_limit, const WakeBoard* board) {
  std::unique_lock<std::mutex> guard(mu_);
  if (!taken_ && head_ == nullptr) {
    taken_ = true;
    return GateEntry::admitted;
  }
  Waiter me;
  me.prev = tail_;
  (tail_ != nullptr ? tail_->next : head_) = &me;
  tail_ = &me;
  // The stall clock restarts whenever the line moves or another process's
  // baton writer commits: only a database where nothing ends is wedged.
  auto since = Clock::now();
  auto moved_at = last_move_;
  std::uint32_t writes = board != nullptr ? board->writes_ended() : 0;
  for (;;) {
    if (wait_turn(guard, me, std::min(deadline, since + stall_limit), stop)) return GateEntry::admitted;
    const auto now = Clock::now();
    if (now >= deadline || (stop != nullptr && stop->stop_requested())) {
      unlink(me);
      return GateEntry::interrupted;
    }
    const std::uint32_t writes_now = board != nullptr ? board->writes_ended() : 0;
    if (last_move_ != moved_at || writes_now != writes) {
      since = now;
      moved_at = last_move_;
      writes = writes_now;
    } else if (now - since >= stall_limit) {
      unlink(me);
      return GateEntry::stalled;
    }
  }
}

bool WriteGate::wait_turn(std::unique_lock<std::mutex>& guard, Waiter& me, Clock::time_point until,
                          const std::stop_token* stop) {
  const auto admitted = [&] { return me.admitted; };
  if (stop != nullptr) return me.cv.wait_until(guard, *stop, until, admitted);
  return me.cv.wait_until(guard, until, admitted);
}

void WriteGate::unlink(Waiter& me) noexcept {
  (me.prev != nullptr ? me.prev->next : head_) = me.next;
  (me.next != nullptr ? me.next->prev : tail_) = me.prev;
}

void WriteGate::leave(bool wrote) noexcept {
  std::lock_guard<std::mutex> guard(mu_);
  if (wrote) last_move_ = Clock::now();
  Waiter* next = head_;
  if (next == nullptr) {
    taken_ = false;
    return;
  }
  unlink(*next);
  // Under mu_: the waiter cannot see `admitted` and leave (destroying its
  // condition variable) before the notify returns.
  next->admitted = true;
  next->cv.notify_one();
}

}  // namespace baton::sqlite::detail
