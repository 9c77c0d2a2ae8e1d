// fence_holder: one holder of the classic fencing scenario, as a real
// process. Usage: fence_holder URL LOCK_NAME KEY DIR
//
// Takes LOCK_NAME (1 s lease) on the server URL names, writes "first" to
// KEY through a baton::redis::Fence with its token (and journals it in
// KEY:journal in the same script), and reports the token in DIR/ready.
// Then it waits (a test SIGSTOPs it here, past its lease) for DIR/go, and
// writes "late" the same way with the same token. It reports in DIR/result
// "written" or "stale <token> <highest>" and exits 0 or 3 (2: anything
// else, said on stderr).
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "baton/redis.hpp"
#include "baton/redis_fence.hpp"
#include "fence_holder.hpp"

namespace fs = std::filesystem;

namespace {

// The account's owner becomes `who`, and the journal records it, in one
// fenced script.
void fenced_write(baton::redis::Fence& fence, const std::string& key, std::uint64_t token, const std::string& who) {
  fence.eval("redis.call('RPUSH', KEYS[2], ARGV[1]) return redis.call('SET', KEYS[1], ARGV[1])",
             {key, key + ":journal"}, {who}, token);
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 5) {
    std::cerr << "usage: fence_holder URL LOCK_NAME KEY DIR\n";
    return 2;
  }
  const std::string key = argv[3];
  const fs::path dir = argv[4];
  baton::redis::Options options;
  options.url = argv[1];
  baton::LockManager manager(baton::redis::make_backend(options));
  baton::redis::Fence fence(options);
  return baton::test::hold_then_write_late(manager, argv[2], dir, [&](std::uint64_t token, const std::string& who) {
    fenced_write(fence, key, token, who);
  });
} catch (const std::exception& e) {
  std::cerr << "fence_holder: " << e.what() << "\n";
  return 2;
}
