// examples/long_task.cpp: a task that runs much longer than its lease, kept
// alive by the manager's background renewal, and that passes its fencing
// token to the resource it writes.
//
//   long_task [CONFIG]
//
// Why fencing: a holder can stall (GC pause, SIGSTOP, swapped out) past its
// lease; another process then gets the lock, and the stalled one wakes up
// still believing it holds. The lock service cannot stop that process, but
// the resource can: it remembers the highest token it has seen and refuses
// writes that carry an older one.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <baton/baton.hpp>

// The resource: a file plus the highest fencing token it has accepted. (Its
// own check-and-write is atomic through flock(2), as a storage server's would
// be; that is the store's business, not the lock's.)
class FencedStore {
 public:
  explicit FencedStore(std::filesystem::path dir) : dir_(std::move(dir)) { std::filesystem::create_directories(dir_); }

  // Appends `line` unless a write with a newer token was already accepted.
  bool write(std::uint64_t token, const std::string& line) {
    int fd = ::open((dir_ / "store.lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) throw std::runtime_error("cannot lock the store");
    std::uint64_t newest = 0;
    std::ifstream(dir_ / "store.token") >> newest;
    bool accepted = token >= newest;
    if (accepted) {
      std::ofstream(dir_ / "data.txt", std::ios::app) << "[token " << token << "] " << line << '\n';
      std::ofstream(dir_ / "store.token", std::ios::trunc) << token << '\n';
    }
    ::close(fd);  // drops the flock
    return accepted;
  }

 private:
  std::filesystem::path dir_;
};

int main(int argc, char** argv) try {
  baton::register_builtin_backends();
  baton::LockManager manager = argc > 1 ? baton::LockManager::from_file(argv[1])
                                        : baton::LockManager::from_config(baton::find_config(std::nullopt));
  FencedStore store("fenced-store");

  std::atomic<bool> lost{false};
  baton::LockOptions options;
  options.ttl = std::chrono::seconds(1);  // short lease: renewed about every 333 ms
  options.on_lost = [&lost](std::string_view name, std::uint64_t token) {
    lost = true;
    std::cerr << "lease of " << name << " (token " << token << ") lost\n";
  };
  baton::Lock lock = manager.lock("examples/long-task", options);

  lock.acquire();
  const std::uint64_t token = lock.token();
  std::cout << "acquired with token " << token << "; working for 3 s on a 1 s lease" << std::endl;
  for (int step = 1; step <= 5; ++step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    if (lost || !lock.holds()) {
      std::cerr << "stopping: the lock is no longer ours\n";
      return 1;
    }
    if (!store.write(token, "step " + std::to_string(step))) {
      std::cerr << "stopping: the store has seen a newer token\n";
      return 1;
    }
    std::cout << "step " << step << " written with token " << token << std::endl;
  }
  lock.release();

  // Someone else (here: a second instance) takes the lock next, with a
  // strictly greater token. A late write still carrying the old token, as a
  // stalled former holder would send, is refused by the store.
  baton::Lock next = manager.lock("examples/long-task", options);
  next.acquire();
  std::cout << "next holder got token " << next.token() << " (> " << token << ")" << std::endl;
  bool fresh = store.write(next.token(), "written by the next holder");
  bool stale = store.write(token, "late write from the old holder");
  next.release();
  std::cout << "store accepted the new holder's write: " << (fresh ? "yes" : "no")
            << "; the stale write: " << (stale ? "yes" : "no (fenced off)") << std::endl;
  return fresh && !stale ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << "long_task: " << e.what() << '\n';
  return 1;
}
