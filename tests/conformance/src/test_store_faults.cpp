// The contract through faults of the store itself, injected with the
// Suite's hooks: a pause (pause_store/resume_store; docs/design.md §1.5,
// §1.3, §1.12) and a restart (restart_store; §1.7, §1.8, §1.12, and for
// Redis §5.5). A case whose hooks the Suite does not set fails saying so;
// the driver skips it before that (conformance.hpp, the capability rule).
//
// Every wait is bounded: a call into a frozen store runs on a thread of its
// own, and the store is resumed before the checks, also when one fails.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "baton/error.hpp"
#include "support.hpp"
#include "watchdog.hpp"

namespace baton::conformance::detail {
void anchor_store_faults() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;
using baton::Lock;
using baton::LockInfo;
using baton::LockManager;

namespace {

// suite().recovery_bound, or 10 s when zero. It also bounds how much longer
// than its own timeout a call may block on a frozen store (§1.12).
milliseconds recovery_bound() {
  return suite().recovery_bound > 0ms ? suite().recovery_bound : milliseconds{10000};
}

// A hand-off from a release to the next waiter [prompt: within 2 s].
constexpr auto handoff_bound = 2000ms;

void require_pause_hooks() {
  if (!suite().pause_store || !suite().resume_store) {
    FAIL("suite '" << suite().name << "' sets no pause_store/resume_store hook: the [store-pause] cases need both "
                   << "(the driver skips them when a hook is missing; conformance.hpp)");
  }
}

void require_restart_hook() {
  if (!suite().restart_store) {
    FAIL("suite '" << suite().name << "' sets no restart_store hook: the [store-restart] cases need it "
                   << "(the driver skips them when it is missing; conformance.hpp)");
  }
}

// The store, paused from construction until resume() or destruction, so a
// failed check never leaves it frozen. Declare it after every object whose
// destructor may call the store: those are destroyed first.
class PausedStore {
 public:
  PausedStore() {
    Step step("pause_store()");
    suite().pause_store();
  }
  ~PausedStore() {
    try {
      resume();
    } catch (const std::exception& e) {
      std::cerr << "conformance: resume_store() failed while a case ended: " << e.what() << "\n";
    }
  }
  PausedStore(const PausedStore&) = delete;
  PausedStore& operator=(const PausedStore&) = delete;

  void resume() {
    if (!paused_) return;
    paused_ = false;
    Step step("resume_store()");
    suite().resume_store();
  }

 private:
  bool paused_ = true;
};

// One call into the backend on a thread of its own, so that the case can
// bound it. Its outcome: true, false, BackendUnavailable (the error §1.12
// allows), or another exception. The destructor requests stop and joins.
class Call {
 public:
  enum class Outcome { pending, yes, no, unavailable, other_error };

  explicit Call(std::function<bool(std::stop_token)> fn) : state_(std::make_shared<State>()) {
    thread_ = std::jthread([state = state_, fn = std::move(fn)](std::stop_token st) {
      Outcome outcome = Outcome::other_error;
      std::string error;
      try {
        outcome = fn(st) ? Outcome::yes : Outcome::no;
      } catch (const baton::BackendUnavailable& e) {
        outcome = Outcome::unavailable;
        error = e.what();
      } catch (const std::exception& e) {
        error = e.what();
      }
      std::lock_guard lock(state->mu);
      state->returned_at = baton::Clock::now();
      state->error = std::move(error);
      state->outcome.store(outcome);
    });
  }
  ~Call() {
    Step step("joining a call into the store: it must return after a stop request (docs/design.md §1.4)");
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  bool returned() const { return state_->outcome.load() != Outcome::pending; }
  // Waits up to `bound` for the call to return; whether it did.
  bool wait(milliseconds bound) const {
    return eventually(bound, [&] { return returned(); }, 1ms);
  }
  Outcome outcome() const { return state_->outcome.load(); }
  baton::Clock::time_point returned_at() const {
    std::lock_guard lock(state_->mu);
    return state_->returned_at;
  }
  // For messages: "pending", "true", "false", "BackendUnavailable: ...", "threw: ...".
  std::string describe() const {
    std::lock_guard lock(state_->mu);
    switch (state_->outcome.load()) {
      case Outcome::pending: return "pending (has not returned)";
      case Outcome::yes: return "true";
      case Outcome::no: return "false";
      case Outcome::unavailable: return "BackendUnavailable: " + state_->error;
      case Outcome::other_error: return "threw (not BackendUnavailable): " + state_->error;
    }
    return "?";
  }

 private:
  struct State {
    std::atomic<Outcome> outcome{Outcome::pending};
    mutable std::mutex mu;
    baton::Clock::time_point returned_at{};
    std::string error;
  };
  std::shared_ptr<State> state_;
  std::jthread thread_;
};

// Waits up to the recovery bound for the store to serve a whole
// try_acquire and release of a fresh name again; returns how long it took.
milliseconds wait_until_serving(LockManager& manager) {
  Step step("waiting for the store to serve again after resume_store() or restart_store() (recovery_bound)");
  const auto t0 = baton::Clock::now();
  std::string last = "no attempt";
  const bool serving = eventually(
      recovery_bound(),
      [&] {
        try {
          auto probe = manager.lock(unique_name("probe"));
          if (!probe.try_acquire()) {
            last = "try_acquire() of a fresh name returned false";
            return false;
          }
          probe.release();
          return true;
        } catch (const std::exception& e) {
          last = e.what();
          return false;
        }
      },
      50ms);
  INFO("last attempt: " << last);
  if (!serving) {
    FAIL("the store did not serve a try_acquire()/release() within the recovery bound of "
         << recovery_bound().count() << " ms (Suite::recovery_bound; docs/design.md §1.12)");
  }
  return ms_since(t0);
}

// manager.inspect(name), retried for up to the recovery bound while the
// store is unavailable.
LockInfo inspect_when_serving(LockManager& manager, const std::string& name) {
  Step step("inspect() after resume_store() or restart_store()");
  std::optional<LockInfo> info;
  std::string last;
  eventually(
      recovery_bound(),
      [&] {
        try {
          info = manager.inspect(name);
          return true;
        } catch (const baton::BackendUnavailable& e) {
          last = e.what();
          return false;
        }
      },
      50ms);
  INFO("last error: " << last);
  REQUIRE(info.has_value());
  return *info;
}

// "<n> ms": the time from `from` to `to`, for messages.
std::string after(baton::Clock::time_point from, baton::Clock::time_point to) {
  return std::to_string(std::chrono::duration_cast<milliseconds>(to - from).count()) + " ms";
}

bool is_false_or_unavailable(const Call& call) {
  return call.outcome() == Call::Outcome::no || call.outcome() == Call::Outcome::unavailable;
}

// A call made on a frozen store returned (`returned_frozen`: before the
// resume) with false or BackendUnavailable, within its own timeout + the
// recovery bound (§1.12).
void check_frozen_call(const std::string& what, milliseconds timeout, const Call& call, bool returned_frozen,
                       baton::Clock::time_point frozen) {
  INFO(what << " must return false or throw BackendUnavailable within " << timeout.count() << " ms + "
            << recovery_bound().count() << " ms while the store stays frozen, never hang (docs/design.md §1.12). It "
            << (returned_frozen ? "returned " : "returned only after the resume, ")
            << after(frozen, call.returned_at()) << " after the freeze: " << call.describe());
  CHECK(returned_frozen);
  CHECK(is_false_or_unavailable(call));
}

// After a fault, the holder either kept its grant, which inspect() agrees
// with, and releases it; or it reports the loss (§1.8), and release()
// throws LockLost.
void settle_holder(LockManager& manager, Lock& holder, std::uint64_t token) {
  if (holder.holds()) {
    INFO("the holder still holds, so the store must still show its grant (docs/design.md §1.9)");
    const auto info = inspect_when_serving(manager, holder.name());
    CHECK(info.held);
    CHECK(info.token == token);
    CHECK_NOTHROW(holder.release());
  } else {
    INFO("a holder that no longer holds must report the loss (docs/design.md §1.8)");
    CHECK(holder.lost());
    CHECK_THROWS_AS(holder.release(), baton::LockLost);
  }
}

}  // namespace

TEST_CASE("a store paused for less than the lease: the holder keeps its grant and token, waiters follow in order",
          "[conformance][store][store-pause]") {
  require_pause_hooks();
  const auto ttl = 3000ms;
  const auto pause = 1000ms;
  const auto name = unique_name("pause-short");
  auto holder_manager = make_manager();
  auto waiter_manager = make_manager();
  auto holder = holder_manager.lock(name, {.ttl = ttl});
  auto first = waiter_manager.lock(name, {.ttl = ttl});
  auto second = waiter_manager.lock(name, {.ttl = ttl});
  REQUIRE(holder.try_acquire());
  const auto token = holder.token();
  Call first_call([&](std::stop_token st) { return first.acquire_for(20s, st); });
  REQUIRE(wait_for_waiters(holder_manager, name, 1) == 1);
  Call second_call([&](std::stop_token st) { return second.acquire_for(20s, st); });
  REQUIRE(wait_for_waiters(holder_manager, name, 2) == 2);

  {
    PausedStore paused;
    std::this_thread::sleep_for(pause);
    CHECK_FALSE(first_call.returned());  // nothing is granted by a frozen store
    CHECK_FALSE(second_call.returned());
    paused.resume();
  }
  {
    INFO("a pause of " << pause.count() << " ms within a lease of " << ttl.count()
                       << " ms ends no grant (docs/design.md §1.5): same holder, same token");
    const auto info = inspect_when_serving(holder_manager, name);
    CHECK(info.held);
    CHECK(info.token == token);
    CHECK(holder.holds());
    CHECK_FALSE(holder.lost());
    CHECK(holder.token() == token);
    INFO("first waiter: " << first_call.describe() << "; second waiter: " << second_call.describe());
    CHECK_FALSE(first_call.returned());  // no second holder beside the first (§1.1)
    CHECK_FALSE(second_call.returned());
  }

  REQUIRE_NOTHROW(holder.release());
  {
    INFO("after the holder's release, the head waiter is granted promptly (§1.3), within "
         << handoff_bound.count() << " ms: " << first_call.describe());
    REQUIRE(first_call.wait(handoff_bound));
    REQUIRE(first_call.outcome() == Call::Outcome::yes);
  }
  CHECK(first.token() > token);  // §1.7
  CHECK(inspect_when_serving(holder_manager, name).token == first.token());
  INFO("the second waiter waits for the first one's release (FIFO, §1.3): " << second_call.describe());
  CHECK_FALSE(second_call.returned());
  REQUIRE_NOTHROW(first.release());
  REQUIRE(second_call.wait(handoff_bound));
  REQUIRE(second_call.outcome() == Call::Outcome::yes);
  CHECK(second.token() > first.token());
  CHECK_NOTHROW(second.release());
}

TEST_CASE("calls in flight on a paused store return within their bounds, and it serves again after resume",
          "[conformance][store][store-pause][slow]") {
  require_pause_hooks();
  const auto wait_timeout = 1000ms;
  const auto name = unique_name("pause-calls");
  auto manager = make_manager();
  auto holder = manager.lock(name);  // the default lease (30 s) outlasts the pause
  auto blocked = manager.lock(name);
  auto trier = manager.lock(name);
  REQUIRE(holder.try_acquire());
  const auto token = holder.token();

  std::optional<Call> blocking, trying;  // before `paused`: destroyed after the resume
  std::optional<PausedStore> paused;
  const auto started = baton::Clock::now();
  blocking.emplace([&](std::stop_token st) { return blocked.acquire_for(wait_timeout, st); });
  REQUIRE(wait_for_waiters(manager, name, 1) == 1);  // queued on the store before it freezes
  {
    // A grant and release leaves an idle connection with a backend that
    // pools them, so the try_acquire below meets the frozen store on a live
    // session, not only when it connects.
    auto warm = manager.lock(unique_name("warm"));
    REQUIRE(warm.try_acquire());
    warm.release();
  }
  paused.emplace();
  const auto frozen = baton::Clock::now();
  trying.emplace([&](std::stop_token) { return trier.try_acquire(); });
  {
    // The store stays frozen until both calls returned or ran past their
    // bounds: a call's own timeout plus the recovery bound (§1.12).
    Step step("waiting for the calls in flight on the paused store to return (docs/design.md §1.12)");
    const auto until = std::max(started + wait_timeout, frozen) + recovery_bound();
    eventually(std::chrono::ceil<milliseconds>(until - baton::Clock::now()),
               [&] { return blocking->returned() && trying->returned(); }, 5ms);
  }
  const bool blocking_returned = blocking->returned();
  const bool trying_returned = trying->returned();
  const auto held_frozen = ms_since(frozen);
  paused->resume();
  REQUIRE(blocking->wait(recovery_bound()));
  REQUIRE(trying->wait(recovery_bound()));
  INFO("the store was resumed " << held_frozen.count() << " ms after it froze");
  check_frozen_call("acquire_for(" + std::to_string(wait_timeout.count()) + " ms), queued when the store froze,",
                    wait_timeout, *blocking, blocking_returned, frozen);
  check_frozen_call("try_acquire() on the frozen store", 0ms, *trying, trying_returned, frozen);
  const auto recovered = wait_until_serving(manager);
  INFO("served again " << recovered.count() << " ms after resume_store()");
  settle_holder(manager, holder, token);
  auto next = manager.lock(name);
  REQUIRE(next.acquire_for(recovery_bound()));
  CHECK(next.token() > token);  // §1.7
  CHECK_NOTHROW(next.release());
}

namespace {

// What the holder's on_lost callback saw (§1.8): runs on the renewal thread.
struct LossSeen {
  std::atomic<int> calls{0};
  std::atomic<std::uint64_t> token{0};
  std::atomic<baton::Clock::rep> at{0};

  baton::LostCallback callback() {
    return [this](std::string_view, std::uint64_t t) {
      token.store(t);
      at.store(baton::Clock::now().time_since_epoch().count());
      calls.fetch_add(1);
    };
  }
  baton::Clock::time_point when() const { return baton::Clock::time_point(baton::Clock::duration(at.load())); }
};

// After a restart that may drop held locks (survives_restart false): the
// holder settles within its lease + the recovery bound + 1 s, either still
// holding (settle_holder() then checks that inspect() agrees) or reporting
// the loss; and once the waiter is granted, the holder lets go within one
// renewal interval + 1 s (its next renewal finds the grant gone, §1.8,
// §5.5).
void check_no_silent_holder(Lock& holder, const LossSeen& loss, const Lock& waiter,
                            const Call& waiting, std::uint64_t token, baton::Clock::time_point restarted) {
  Step step("watching the holder and the waiter after restart_store() (docs/design.md §1.1, §1.8)");
  const auto renewal = holder.ttl() / 3;
  const auto settle_by = restarted + holder.ttl() + recovery_bound() + 1s;
  std::optional<baton::Clock::time_point> holder_let_go;  // first seen not holding
  while (baton::Clock::now() < settle_by && !(holder_let_go && waiting.returned())) {
    if (!holder_let_go && !holder.holds()) holder_let_go = baton::Clock::now();
    if (waiting.outcome() == Call::Outcome::yes && holder.holds() &&
        baton::Clock::now() > waiting.returned_at() + renewal + 1s) {
      FAIL_CHECK("two holders: the waiter was granted token "
                 << waiter.token() << " after the restart, and " << after(waiting.returned_at(), baton::Clock::now())
                 << " later the old holder (token " << token << ") still holds; it must report the loss within one "
                 << "renewal interval (" << renewal.count() << " ms) + 1 s (docs/design.md §1.1, §1.8, §5.5)");
      return;
    }
    std::this_thread::sleep_for(5ms);
  }
  if (holder.holds()) return;  // settle_holder() checks that inspect() agrees
  INFO("a holder whose grant the restart dropped reports the loss (§1.8): lost() true, on_lost ran once");
  CHECK(holder.lost());
  CHECK(loss.calls.load() == 1);
  CHECK(loss.token.load() == token);
  if (waiting.outcome() == Call::Outcome::yes && holder_let_go) {
    const auto let_go = loss.calls.load() > 0 ? std::min(*holder_let_go, loss.when()) : *holder_let_go;
    CHECK(let_go <= waiting.returned_at() + renewal + 1s);
  }
}

}  // namespace

TEST_CASE("a store restart with a lock held and a waiter queued: no silent double holder, tokens keep growing",
          "[conformance][store][store-restart][slow]") {
  require_restart_hook();
  const auto ttl = 3000ms;
  const auto waiter_timeout = 15s;
  const auto name = unique_name("restart");
  auto holder_manager = make_manager();
  auto waiter_manager = make_manager();
  LossSeen loss;
  auto holder = holder_manager.lock(name, {.ttl = ttl, .on_lost = loss.callback()});
  auto waiter = waiter_manager.lock(name, {.ttl = ttl});
  for (int i = 0; i < 3; ++i) {  // earlier grants: the holder's token is the greatest before the restart
    auto earlier = waiter_manager.lock(name);
    REQUIRE(earlier.try_acquire());
    earlier.release();
  }
  REQUIRE(holder.try_acquire());
  const auto token = holder.token();
  const auto waiter_started = baton::Clock::now();
  Call waiting([&](std::stop_token st) { return waiter.acquire_for(waiter_timeout, st); });
  REQUIRE(wait_for_waiters(holder_manager, name, 1) == 1);

  const auto restart_began = baton::Clock::now();
  {
    Step step("restart_store()");
    suite().restart_store();
  }
  const auto restarted = baton::Clock::now();
  const auto recovered = wait_until_serving(waiter_manager);
  INFO("restart_store() took " << std::chrono::duration_cast<milliseconds>(restarted - restart_began).count()
                               << " ms; the store served again " << recovered.count() << " ms later");

  if (suite().survives_restart) {
    INFO("Suite::survives_restart: the holder keeps its grant and token through the restart");
    CHECK(inspect_when_serving(holder_manager, name).token == token);
    CHECK(holder.holds());
    CHECK_FALSE(waiting.returned());
  } else {
    check_no_silent_holder(holder, loss, waiter, waiting, token, restarted);
  }
  settle_holder(holder_manager, holder, token);

  {
    INFO("a waiter queued across the restart is granted, or returns false or BackendUnavailable, within its "
         "timeout + the recovery bound: never hangs (§1.12): "
         << waiting.describe());
    REQUIRE(eventually(waiter_timeout + recovery_bound() - ms_since(waiter_started), [&] { return waiting.returned(); },
                       5ms));
    CHECK(waiting.outcome() != Call::Outcome::other_error);
  }
  std::uint64_t highest = token;
  if (waiting.outcome() == Call::Outcome::yes) {
    INFO("the waiter's grant after the restart exceeds every earlier token (§1.7)");
    CHECK(waiter.token() > token);
    highest = std::max(highest, waiter.token());
    CHECK_NOTHROW(waiter.release());
  }
  auto after = waiter_manager.lock(name);
  REQUIRE(after.acquire_for(recovery_bound()));
  INFO("a grant after the restart carries a token above every earlier one, " << highest
                                                                              << " (docs/design.md §1.7, §5.5)");
  CHECK(after.token() > highest);
  CHECK_NOTHROW(after.release());
}
