// docs/design.md §1.3 FIFO (no queue jumping) on every way a lock becomes
// free while the head waiter cannot react: a release (§1.3), an admin clear
// (§1.10), an expired lease (§1.5) and a killed holder (§1.6). A mutation
// run found that the suite tested FIFO only when a release hands the lock
// straight to a head that is awake; these cases stop the head first.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "baton/error.hpp"
#include "clause.hpp"
#include "preconditions.hpp"
#include "support.hpp"
#include "watchdog.hpp"

namespace baton::conformance::detail {
void anchor_stopped_head() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;

namespace {

// How the lock becomes free while the head waiter is stopped.
enum class FreedBy { release, clear, expiry, kill };

const char* describe(FreedBy how) {
  switch (how) {
    case FreedBy::release: return "the holder releases (docs/design.md §1.3)";
    case FreedBy::clear: return "an admin clear (docs/design.md §1.10)";
    case FreedBy::expiry: return "the holder's lease runs out (docs/design.md §1.5)";
    case FreedBy::kill: return "the holder is SIGKILLed (docs/design.md §1.6)";
  }
  return "?";
}

// How soon a waiter that can react must be granted a lock that is free for
// it: the bound the timeout tests allow after a release (test_timeouts.cpp,
// "a waiter that timed out does not delay the waiters behind it").
constexpr milliseconds prompt = 500ms;

// The lease of a holder process that is stopped (expiry) or killed (kill):
// short, so that the lock is free for most of the window below even on a
// backend that only notices a dead holder when its lease ends, and so that
// lease + 1 s (§1.5, §1.6) ends inside that window: then the case can check
// that the old grant is gone before it resumes the head.
constexpr milliseconds holder_ttl = 400ms;

// How long the head waiter stays stopped. A SIGSTOPped process is alive, so
// it is a live waiter and keeps its place (docs/design.md §1.3, §1.6). But
// it cannot refresh its heartbeat, and backends that prove liveness by
// heartbeat (SQLite §3.4, Redis §5.3: three 1 s intervals, so at least 2 s
// after the last refresh) may legitimately drop it after a while, within
// their dead-waiter bound. So the window stays below both: 1.5 s, and never
// more than a third of the suite's dead_waiter_bound().
milliseconds stop_window() { return std::min<milliseconds>(1500ms, dead_waiter_bound() / 3); }

// The whole scenario. Queue: a helper process (the head, which holds until
// told to release), then a thread of this process (`later`). The head is
// stopped, the lock is freed `how`, and for the window neither `later` nor a
// try_acquire of another instance may take it. Then the head is resumed and
// must be granted first, promptly; `later` only after the head releases.
// One member function per phase, run in order by run().
class StoppedHeadScenario {
 public:
  explicit StoppedHeadScenario(FreedBy how) : how_(how) { fs::create_directory(holder_dir_); }

  void run() {
    CLAUSE_AT("§1.3", "BackendLock::acquire",
              "a live head waiter keeps its place however the lock is freed; here "
                  << describe(how_) << ", while the head waiter is SIGSTOPped");
    start_holder();
    queue_waiters();
    stop_head_and_free_lock();
    check_window();
    resume_head();
    head_releases();
    check_old_holder();
  }

 private:
  // The holder: this process for release and clear, a helper process
  // (auto-renewing a short lease) for expiry and kill.
  void start_holder() {
    step_.emplace("starting the holder");
    if (how_ == FreedBy::release || how_ == FreedBy::clear) {
      local_holder_.emplace(manager_.lock(name_));  // default 30 s lease: no renewal during the case
      local_holder_->acquire();
      holder_token_ = local_holder_->token();
      return;
    }
    holder_process_.emplace("hold", std::vector<std::string>{name_, holder_dir_.string(),
                                                             std::to_string(holder_ttl.count()), "1"});
    INFO("the holder helper " << holder_process_->description() << " must acquire the free lock within 20 s");
    REQUIRE(wait_for_file(holder_dir_ / "acquired", 20s));
    holder_token_ = std::stoull(field(read_file(holder_dir_ / "acquired").value_or(""), "token"));
    REQUIRE(holder_token_ > 0);
  }

  // The queue: the head (a helper process), then `later` (a thread).
  void queue_waiters() {
    step_.emplace("queueing the head waiter (a helper process)");
    head_.emplace("wait", std::vector<std::string>{name_, dir_.path().string(), "head", "30000", "hold"});
    INFO("head waiter helper " << head_->description());
    REQUIRE(wait_for_file(dir_ / "ready-head", 20s));
    require_waiter_count(manager_, name_, 1);
    step_.emplace("queueing the later waiter (a thread)");
    later_.emplace(later_lock_, 30s, [this](baton::Lock& l) {
      append_line(dir_ / "order", "id=later token=" + std::to_string(l.token()));
      l.release();
    });
    require_waiter_count(manager_, name_, 2);
  }

  void stop_head_and_free_lock() {
    step_.emplace("stopping the head waiter");
    {
      INFO("the head waiter must stop (SIGSTOP) within 2 s");
      REQUIRE(head_->stop());
    }
    stopped_ = baton::Clock::now();
    step_.emplace(std::string("freeing the lock: ") + describe(how_));
    switch (how_) {
      case FreedBy::release:
        local_holder_->release();
        break;
      case FreedBy::clear: {
        CLAUSE("§1.10", "clear() of a held lock says it removed a live grant");
        REQUIRE(manager_.clear(name_));
        break;
      }
      case FreedBy::expiry: {
        INFO("the holder helper must stop (SIGSTOP) within 2 s");
        REQUIRE(holder_process_->stop());
        // Its last renewal came before the stop: the lease ends within the
        // lease after it, and a waiter may need 1 s more (§1.5).
        free_bound_ = holder_ttl + 1000ms;
        break;
      }
      case FreedBy::kill:
        holder_process_->kill();
        free_bound_ = suite().frees_on_disconnect ? 1000ms : holder_ttl + 1000ms;  // §1.6
        break;
    }
    freed_ = baton::Clock::now();
  }

  // Nobody but the stopped head may get the lock while it is stopped.
  void check_window() {
    step_.emplace("while the head waiter is stopped: try_acquire() and inspect()");
    bool later_overtook = false;
    int intruder_took = 0;
    int tries = 0;
    while (baton::Clock::now() - stopped_ < stop_window()) {
      if (later_->returned()) later_overtook = true;
      ++tries;
      if (intruder_.try_acquire()) {
        ++intruder_took;
        intruder_.release();
      }
      std::this_thread::sleep_for(50ms);
    }
    if (later_->returned()) later_overtook = true;
    {
      CLAUSE("§1.3", "a waiter queued behind a live (stopped) head waiter must not be granted the lock before it; "
                     "later waiter's result: "
                         << (later_->returned() ? (later_->error().empty() ? "granted" : later_->error())
                                                : "still waiting"));
      CHECK_FALSE(later_overtook);
    }
    {
      CLAUSE("§1.3", "try_acquire() succeeds only if the lock is free and nobody is waiting; it succeeded "
                         << intruder_took << " of " << tries << " times while a live (stopped) waiter was queued");
      CHECK(intruder_took == 0);
    }
    if (baton::Clock::now() - freed_ >= free_bound_) check_old_grant_gone();
  }

  // Once the contract says the old grant is gone, the lock is free or the
  // stopped head's, and both waiters still count.
  void check_old_grant_gone() {
    const auto info = manager_.inspect(name_);
    INFO("inspect() after the window: " << Catch::Detail::stringify(info) << "; head pid " << head_->pid()
                                         << ", old token " << holder_token_);
    {
      CLAUSE("§1.1", "(with §1.5, §1.6, §1.10) the old grant must be gone by now; the lock is free or "
                     "granted to the stopped head waiter");
      CHECK((!info.held || (info.pid == head_->pid() && info.token > holder_token_)));
    }
    {
      CLAUSE("§1.9", "inspect().waiters counts live waiters; the stopped head is alive");
      CHECK(info.waiters == (info.held ? 1u : 2u));
    }
  }

  // The resumed head is served first, promptly.
  void resume_head() {
    step_.emplace("waiting for the resumed head waiter to be granted");
    head_->resume();
    const auto resumed = baton::Clock::now();
    const auto grant_by = std::max(resumed, freed_ + free_bound_) + prompt;
    {
      CLAUSE("§1.3", "the resumed head waiter must be granted the lock (within 10 s)");
      REQUIRE(wait_for_file(dir_ / "acquired-head", 10s));
    }
    const auto head_seen = baton::Clock::now();
    {
      CLAUSE("§1.3", "(with §1.4) the resumed head waiter must be granted within "
                         << prompt.count() << " ms of being able to react; it took "
                         << std::chrono::duration_cast<milliseconds>(head_seen - resumed).count()
                         << " ms after SIGCONT");
      CHECK(head_seen <= grant_by);
    }
    std::this_thread::sleep_for(100ms);
    {
      CLAUSE("§1.1", "(with §1.3) the later waiter must wait while the head holds");
      CHECK_FALSE(later_->returned());
    }
    {
      CLAUSE("§1.1", "(with §1.3) try_acquire() while the resumed head holds");
      const bool took = intruder_.try_acquire();
      if (took) intruder_.release();  // let the case go on
      CHECK_FALSE(took);
    }
  }

  // The head releases: now, and only now, `later` is granted.
  void head_releases() {
    step_.emplace("the head waiter releases; waiting for the later waiter to be granted");
    const auto head_released = baton::Clock::now();
    write_file(dir_ / "release-head", "");
    {
      INFO("the head waiter helper must exit 0 after its release");
      REQUIRE(head_->wait_exit(10s) == std::optional<int>(0));
    }
    {
      CLAUSE("§1.3", "the later waiter must be granted once the head releases; " << later_->error());
      REQUIRE(later_->result(10s) == std::optional<bool>(true));
    }
    {
      CLAUSE("§1.3", "(with §1.4) the later waiter is granted promptly after the head's release; it took "
                         << std::chrono::duration_cast<milliseconds>(later_->returned_at() - head_released).count()
                         << " ms");
      CHECK(later_->returned_at() - head_released <= prompt);
    }
    REQUIRE(later_->finish(5s));
    check_grant_order();
  }

  void check_grant_order() {
    const auto lines = read_lines(dir_ / "order");
    std::string listing;
    for (const auto& l : lines) listing += "\n  " + l;
    INFO("grant order (" << dir_.path().string() << "/order):" << listing);
    CLAUSE("§1.3", "the head is granted before the later waiter, each once");
    REQUIRE(lines.size() == 2);
    CHECK(field(lines[0], "id") == "head");
    CHECK(field(lines[1], "id") == "later");
    const auto head_token = std::stoull(field(lines[0], "token"));
    CLAUSE("§1.7", "tokens strictly increase per name: old holder " << holder_token_ << ", head " << head_token
                                                                        << ", later " << later_->token());
    CHECK(head_token > holder_token_);
    CHECK(later_->token() > head_token);
  }

  // The old holder learns of its loss; nothing is left in the store.
  void check_old_holder() {
    step_.emplace("the old holder's release reports its loss");
    if (how_ == FreedBy::clear) {
      CLAUSE("§1.10", "the cleared holder's release reports the loss (§1.8)");
      CHECK_THROWS_AS(local_holder_->release(), baton::LockLost);
    }
    if (how_ == FreedBy::expiry) {
      holder_process_->resume();
      {
        CLAUSE("§1.8", "the resumed holder's renewal must find its lease gone and run on_lost");
        CHECK(eventually(holder_ttl / 3 + 2s, [&] { return !read_lines(holder_dir_ / "lost").empty(); }));
      }
      write_file(holder_dir_ / "release", "");
      REQUIRE(holder_process_->wait_exit(10s) == std::optional<int>(0));
      const auto result = read_file(holder_dir_ / "result").value_or("");
      CLAUSE("§1.8", "the expired holder's release reports the loss; helper result: " << result);
      CHECK(field(result, "release") == "lost");
    }
    CLAUSE("§1.9", "nothing left held or queued");
    const auto info = manager_.inspect(name_);
    CHECK_FALSE(info.held);
    CHECK(info.waiters == 0);
  }

  const FreedBy how_;
  TempDir dir_;
  const fs::path holder_dir_ = dir_ / "holder";
  baton::LockManager manager_ = make_manager();
  baton::LockManager other_manager_ = make_manager();  // another backend object: another client of the store
  const std::string name_ = unique_name("stopped-head");
  std::optional<Step> step_;  // for the watchdog's message, should a call never return
  std::optional<baton::Lock> local_holder_;
  std::optional<Helper> holder_process_;
  std::uint64_t holder_token_ = 0;
  std::optional<Helper> head_;
  baton::Lock later_lock_ = other_manager_.lock(name_);
  std::optional<ThreadWaiter> later_;  // after the Lock it uses, so it is joined first
  baton::Lock intruder_ = other_manager_.lock(name_);
  baton::Clock::time_point stopped_{};
  baton::Clock::time_point freed_{};
  milliseconds free_bound_ = 0ms;  // how long after freed_ the contract says the old grant is gone
};

void stopped_head_keeps_its_place(FreedBy how) { StoppedHeadScenario(how).run(); }

}  // namespace

TEST_CASE("a stopped head waiter keeps its place when the holder releases",
          "[conformance][fifo][process]") {
  stopped_head_keeps_its_place(FreedBy::release);
}

TEST_CASE("a stopped head waiter keeps its place when the lock is cleared",
          "[conformance][fifo][clear][process]") {
  stopped_head_keeps_its_place(FreedBy::clear);
}

TEST_CASE("a stopped head waiter keeps its place when the lease of the holder runs out",
          "[conformance][fifo][ttl][process]") {
  stopped_head_keeps_its_place(FreedBy::expiry);
}

TEST_CASE("a stopped head waiter keeps its place when the holder is SIGKILLed",
          "[conformance][fifo][crash][process]") {
  stopped_head_keeps_its_place(FreedBy::kill);
}

TEST_CASE("clear() wakes the head waiter promptly", "[conformance][fifo][clear]") {
  CLAUSE_AT("§1.10", "Backend::clear",
            "clear() frees the lock and queued waiters keep their places; the head is granted promptly");
  auto manager = make_manager();
  auto admin = make_manager();
  const auto name = unique_name("clear-wakes");
  auto holder = manager.lock(name);  // default 30 s lease: no renewal during the case
  auto head_lock = manager.lock(name);
  auto later_lock = manager.lock(name);
  holder.acquire();
  const auto old_token = holder.token();
  ThreadWaiter head(head_lock, 20s);
  require_waiter_count(manager, name, 1);
  ThreadWaiter later(later_lock, 20s, [](baton::Lock& l) { l.release(); });
  require_waiter_count(manager, name, 2);
  // A backend that frees the lock on clear() but wakes nobody lets the head
  // find out only at its next poll or heartbeat; the contract wants it
  // woken, as by a release.
  const auto cleared = baton::Clock::now();
  {
    CLAUSE("§1.10", "clear() of a held lock says it removed a live grant");
    REQUIRE(admin.clear(name));
  }
  {
    CLAUSE("§1.10", "(with §1.3) after a clear the head waiter is granted the lock; " << head.error());
    REQUIRE(head.result(5s) == std::optional<bool>(true));
  }
  {
    CLAUSE("§1.10", "(with §1.4) a clear wakes the head waiter as promptly as a release ("
                        << prompt.count() << " ms); it took "
                        << std::chrono::duration_cast<milliseconds>(head.returned_at() - cleared).count() << " ms");
    CHECK(head.returned_at() - cleared <= prompt);
  }
  {
    CLAUSE("§1.7", "the new grant's token is greater than the cleared one's");
    CHECK(head.token() > old_token);
  }
  {
    CLAUSE("§1.10", "queued waiters keep their places; the later waiter still waits");
    CHECK_FALSE(later.returned());
  }
  {
    CLAUSE("§1.10", "the cleared holder's release reports the loss (§1.8)");
    CHECK_THROWS_AS(holder.release(), baton::LockLost);
  }
  REQUIRE(head.finish(5s));  // the waiter thread is done with head_lock
  head_lock.release();
  {
    CLAUSE("§1.3", "the later waiter is granted after the head releases; " << later.error());
    REQUIRE(later.result(5s) == std::optional<bool>(true));
  }
  REQUIRE(later.finish(5s));
}
