// One holder of the classic fencing scenario, as each backend's fence tests
// run it in a process of its own (tests/<backend>/fence_holder.cpp): the
// protocol is here once, the fenced write is the backend's.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "test_support.hpp"

namespace baton::test {

// Writes as `who` with `token` through the backend's fence; throws
// baton::StaleToken when the fence refuses.
using FencedWrite = std::function<void(std::uint64_t token, const std::string& who)>;

// Takes `lock_name` with a 1 s lease, writes "first" with its token and
// reports the token in DIR/ready. Then waits (the test SIGSTOPs it here,
// past its lease) for DIR/go and writes "late" with the same token. Reports
// in DIR/result "written" (returns 0) or "stale <token> <highest>"
// (returns 3). Any other failure throws.
inline int hold_then_write_late(baton::LockManager& manager, const std::string& lock_name,
                                const std::filesystem::path& dir, const FencedWrite& write) {
  using namespace std::chrono_literals;
  baton::LockOptions lease;
  lease.ttl = 1s;
  auto lock = manager.lock(lock_name, lease);
  if (!lock.acquire_for(10s)) throw std::runtime_error("lock not granted within 10 s");
  const std::uint64_t token = lock.token();
  write(token, "first");
  write_file(dir / "ready", std::to_string(token));
  while (!std::filesystem::exists(dir / "go")) std::this_thread::sleep_for(5ms);
  try {
    write(token, "late");
    write_file(dir / "result", "written");
    return 0;
  } catch (const baton::StaleToken& stale) {
    write_file(dir / "result", "stale " + std::to_string(stale.token()) + " " + std::to_string(stale.highest()));
    return 3;
  }
}

}  // namespace baton::test
