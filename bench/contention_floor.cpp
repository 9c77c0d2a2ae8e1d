// bench/contention_floor.cpp: the floor of the SQLite contention measure.
//
// The bare primitive a strictly FIFO lock on one SQLite file is built from,
// looped by PROCS processes in turn, each sleeping until woken. A turn is
// the write transaction that hands the turn on (BEGIN IMMEDIATE; UPDATE one
// row; COMMIT, prepared), then a futex wake-up of the next process in the
// ring. With WRITES = 2 the process then makes a second write transaction
// (another row) before it sleeps: the re-queue. That is what a lock whose
// queue is a table of waiter rows each waiter writes itself needs at least
// for every contended grant: the hand-off and the released process's waiter
// row, as the contention measure's loop does (release, then acquire again at
// once). Baton's waiters post their row for the next writer to insert
// (docs/design.md §3.3), so baton makes one write a contended grant, as
// WRITES = 1. One process hands the turn to itself (no wake-up), so
// WRITES = 2 with PROCS = 1 is an acquire+release's two writes. No queue
// reads, no liveness, no lease. A busy writer sleeps on a futex until a
// write transaction ends, as baton's do (docs/design.md §3.5, write-lock
// words), so the floor is not inflated by SQLite's default busy handler's
// millisecond naps.
#include <linux/futex.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "common.hpp"

namespace bench {

using namespace std::chrono_literals;

namespace {

// The ring, in memory shared by its processes.
struct FloorRing {
  std::atomic<long long> start_ns;
  std::atomic<long long> stop_ns;
  std::atomic<int> ready;
  std::atomic<int> done;
  alignas(64) std::atomic<std::uint32_t> writes;  // write transactions ended
  std::atomic<std::uint32_t> write_waiters;       // connections waiting to write
  struct alignas(64) Turn {
    std::atomic<std::uint32_t> word;
  } turn[64];
  long long turns[64];
};

constexpr int max_procs = static_cast<int>(std::extent_v<decltype(FloorRing::turns)>);

// SQLite's busy handler: sleep until a write transaction ends (at most 1 ms).
int ring_busy(void* arg, int /*count*/) {
  auto* sh = static_cast<FloorRing*>(arg);
  const std::uint32_t seen = sh->writes.load();
  sh->write_waiters += 1;
  const timespec ms{0, 1'000'000};
  futex(&sh->writes, FUTEX_WAIT, seen, &ms);
  sh->write_waiters -= 1;
  return 1;
}

void ring_wrote(FloorRing* sh) {
  sh->writes += 1;
  if (sh->write_waiters.load() != 0) futex(&sh->writes, FUTEX_WAKE, INT_MAX);
}

// The ring's table, with baton's page size (its files are made with 1 KiB
// pages): each commit writes whole pages to the WAL, so 4 KiB pages would
// slow the floor.
void create_ring_table() {
  sqlite3* db = nullptr;
  sqlite3_open(setup.sqlite_path.c_str(), &db);
  sqlite_exec(db, "PRAGMA page_size=1024; PRAGMA journal_mode=WAL;"
                  "CREATE TABLE IF NOT EXISTS ring(k INTEGER PRIMARY KEY, v INTEGER);"
                  "INSERT OR IGNORE INTO ring VALUES(1, 0);"
                  "INSERT OR IGNORE INTO ring VALUES(2, 0)");
  sqlite3_close(db);
}

// One process's connection and its prepared write transactions: bump(0)
// hands the turn on, bump(1) is the re-queue.
class RingWriter {
 public:
  explicit RingWriter(FloorRing* sh) : sh_(sh) {
    sqlite3_open_v2(setup.sqlite_path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    sqlite3_busy_handler(db_, ring_busy, sh);
    sqlite_exec(db_, "PRAGMA synchronous=NORMAL");
    sqlite3_prepare_v2(db_, "BEGIN IMMEDIATE", -1, &begin_, nullptr);
    sqlite3_prepare_v2(db_, "COMMIT", -1, &commit_, nullptr);
    sqlite3_prepare_v2(db_, "UPDATE ring SET v = v + 1 WHERE k = 1", -1, &bump_[0], nullptr);
    sqlite3_prepare_v2(db_, "UPDATE ring SET v = v + 1 WHERE k = 2", -1, &bump_[1], nullptr);
  }
  RingWriter(const RingWriter&) = delete;
  RingWriter& operator=(const RingWriter&) = delete;
  ~RingWriter() {
    for (sqlite3_stmt* s : {begin_, commit_, bump_[0], bump_[1]}) sqlite3_finalize(s);
    sqlite3_close(db_);
  }

  // One write transaction; a failure ends the process with 70.
  void bump(int row) {
    for (sqlite3_stmt* s : {begin_, bump_[row], commit_}) {
      if (!step_done(s)) {
        std::fprintf(stderr, "bench_suite: ring write: %s\n", sqlite3_errmsg(db_));
        std::_Exit(exit_failed);
      }
    }
    ring_wrote(sh_);
  }

 private:
  FloorRing* sh_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* bump_[2] = {nullptr, nullptr};
};

// Process p of the ring: waits for its turn, hands it on, and re-queues
// (WRITES = 2), until the stop time; returns the turns it took.
long long ring_turns(FloorRing* sh, RingWriter& writer, int p, int procs, int writes) {
  auto& mine = sh->turn[p].word;
  auto& next = sh->turn[(p + 1) % procs].word;
  long long n = 0;
  for (;;) {
    while (mine.load() == 0) {
      if (sh->done.load() != 0) break;
      futex(&mine, FUTEX_WAIT, 0);
    }
    if (sh->done.load() != 0) break;
    mine = 0;
    writer.bump(0);
    ++n;
    if (now_ns() >= sh->stop_ns.load()) sh->done = 1;
    next = 1;
    if (procs > 1) futex(&next, FUTEX_WAKE, 1);
    if (sh->done.load() != 0) break;
    if (writes == 2) writer.bump(1);
  }
  return n;
}

[[noreturn]] void ring_process(FloorRing* sh, int p, int procs, int writes) {
  {
    RingWriter writer(sh);
    sh->ready += 1;
    while (sh->start_ns.load() == 0) std::this_thread::sleep_for(100us);
    sh->turns[p] = ring_turns(sh, writer, p, procs, writes);
    // Wake everyone still asleep so the ring ends.
    for (int q = 0; q < procs; ++q) {
      sh->turn[q].word = 1;
      futex(&sh->turn[q].word, FUTEX_WAKE, 1);
    }
  }
  std::_Exit(0);
}

// Starts the ring 20 ms from now, with process 0's turn.
void start_ring(FloorRing* sh, double seconds) {
  const long long start = now_ns() + 20'000'000;
  sh->stop_ns = start + static_cast<long long>(seconds * 1e9);
  sh->turn[0].word = 1;
  sh->start_ns = start;
  futex(&sh->turn[0].word, FUTEX_WAKE, 1);
}

}  // namespace

int cmd_contention_floor(int procs, double seconds, int writes) {
  if (setup.backend != "sqlite") {
    std::fprintf(stderr, "bench_suite: contention_floor is for sqlite\n");
    return exit_usage;
  }
  if (procs < 1 || procs > max_procs || writes < 1 || writes > 2) {
    std::fprintf(stderr, "bench_suite: contention_floor takes 1 to %d processes and 1 or 2 writes\n", max_procs);
    return exit_usage;
  }
  auto* sh = shared<FloorRing>();
  create_ring_table();
  std::vector<pid_t> kids;
  for (int p = 0; p < procs; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) ring_process(sh, p, procs, writes);
    kids.push_back(pid);
  }
  while (sh->ready.load() < procs) std::this_thread::sleep_for(1ms);
  start_ring(sh, seconds);
  if (!all_exited_cleanly(kids)) return exit_failed;
  long long total = 0;
  for (int p = 0; p < procs; ++p) total += sh->turns[p];
  std::printf("{\"backend\":\"sqlite\",\"measure\":\"contention_floor\",\"procs\":%d,\"writes\":%d,"
              "\"seconds\":%.1f,\"turns_per_s\":%.0f}\n",
              procs, writes, seconds, static_cast<double>(total) / seconds);
  return 0;
}

}  // namespace bench
