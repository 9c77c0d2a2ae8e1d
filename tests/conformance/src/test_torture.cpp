// The torture case: helper processes run a seeded random mix of every lock
// operation on a few names while this process SIGKILLs (and replaces) and
// SIGSTOPs them; then the recorded history is checked against the contract
// (torture_check.cpp: §1.1, §1.3, §1.4, §1.5, §1.7, §1.8, §1.10) and the
// store must be left empty (§1.6, §1.9).
//
// Reproduce a run with BATON_CONFORMANCE_SEED=<the seed it printed>; its
// length is BATON_CONFORMANCE_TORTURE_S seconds (20 by default). A failing
// run keeps its logs (so does every run with BATON_CONFORMANCE_TORTURE_KEEP
// set) under the temp directory, in baton-torture-<seed>. Operations
// are bounded by time, not by count, so a slow (sanitizer) build does fewer.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "support.hpp"
#include "torture.hpp"
#include "watchdog.hpp"

namespace baton::conformance::detail {
void anchor_torture() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;
namespace torture = baton::conformance::detail::torture;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int slowdown = 3;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr int slowdown = 3;
#else
constexpr int slowdown = 1;
#endif
#else
constexpr int slowdown = 1;
#endif

// How long after its start a blocking acquire has certainly reached the
// store (the FIFO check compares only waiters that started further apart).
constexpr milliseconds join_margin = 200ms * slowdown;
// How soon a waiter that can react is granted a lock just released (as in
// test_timeouts.cpp and test_stopped_head.cpp).
constexpr milliseconds prompt = 500ms * slowdown;

std::uint64_t torture_seed() {
  if (const char* s = std::getenv("BATON_CONFORMANCE_SEED"); s != nullptr && *s != '\0') {
    return std::stoull(s);
  }
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

milliseconds torture_duration() {
  if (const char* s = std::getenv("BATON_CONFORMANCE_TORTURE_S"); s != nullptr && *s != '\0') {
    const long v = std::strtol(s, nullptr, 10);
    if (v > 0) return std::chrono::seconds(v);
  }
  return 20s;
}

// A SIGSTOP stays below a third of the dead-waiter bound, so a stopped
// waiter stays live (§1.6), and at most 1.5 s: longer than the gap between
// renewals the short lease can miss (1 s), so a stopped holder may lose it,
// shorter than the long lease's (2 s), so with that one it may not.
milliseconds pause_max() {
  return std::min<milliseconds>(1500ms, dead_waiter_bound() / 3);
}

// What the test does to the helpers, drawn from the seed.
struct Action {
  milliseconds at;
  bool kill = false;
  int slot = 0;
  milliseconds pause{0};
};

std::vector<Action> make_schedule(std::uint64_t seed, milliseconds duration) {
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  auto uniform = [&](long lo, long hi) { return std::uniform_int_distribution<long>(lo, hi)(rng); };
  std::vector<Action> actions;
  milliseconds at{uniform(200, 1000)};
  while (at + pause_max() + 500ms < duration) {
    Action a{at, uniform(0, 99) < 25, static_cast<int>(uniform(0, torture::helper_count - 1))};
    if (!a.kill) a.pause = milliseconds{uniform(100, pause_max().count())};
    actions.push_back(a);
    at += a.pause + milliseconds{uniform(300, 2000)};
  }
  return actions;
}

// The helper processes, one live incarnation per slot, and what was done to
// them (for the checker).
class Fleet {
 public:
  Fleet(const fs::path& dir, std::uint64_t seed, std::int64_t end_ns, std::vector<std::string> names)
      : dir_(dir), seed_(seed), end_ns_(end_ns), names_(std::move(names)), current_(torture::helper_count) {
    for (int slot = 0; slot < torture::helper_count; ++slot) start(slot, 0);
  }

  void act(const Action& a) {
    Member& m = members_[current_[a.slot]];
    if (a.kill) {
      const std::int64_t now = torture::now_ns();
      kills_.push_back({a.slot, m.incarnation, now, now});
      m.helper->kill();
      m.killed = true;
      start(a.slot, m.incarnation + 1);
      return;
    }
    const std::int64_t start_ns = torture::now_ns();
    m.helper->stop();
    std::this_thread::sleep_for(a.pause);
    m.helper->resume();
    stops_.push_back({a.slot, m.incarnation, start_ns, torture::now_ns()});
  }

  // Every helper not killed must end, with 0, within `bound`.
  void wait_all(milliseconds bound) {
    const auto until = std::chrono::steady_clock::now() + bound;
    for (auto& m : members_) {
      if (m.killed) continue;
      INFO("torture helper slot " << m.slot << " incarnation " << m.incarnation << ": "
                                  << m.helper->description());
      const auto left = std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now());
      const auto rc = m.helper->wait_exit(std::max(left, 0ms));
      REQUIRE(rc.has_value());
      CHECK(*rc == 0);
    }
  }

  const std::vector<torture::Signal>& stops() const { return stops_; }
  const std::vector<torture::Signal>& kills() const { return kills_; }

 private:
  struct Member {
    std::unique_ptr<Helper> helper;
    int slot = 0;
    int incarnation = 0;
    bool killed = false;
  };

  void start(int slot, int incarnation) {
    std::vector<std::string> args{dir_.string(), std::to_string(seed_), std::to_string(slot),
                                  std::to_string(incarnation), std::to_string(end_ns_)};
    args.insert(args.end(), names_.begin(), names_.end());
    members_.push_back({std::make_unique<Helper>("torture", std::move(args)), slot, incarnation});
    current_[slot] = members_.size() - 1;
  }

  fs::path dir_;
  std::uint64_t seed_;
  std::int64_t end_ns_;
  std::vector<std::string> names_;
  std::vector<Member> members_;
  std::vector<std::size_t> current_;
  std::vector<torture::Signal> stops_, kills_;
};

// What the store still shows of `names` ("" when nothing).
std::string leftovers(baton::LockManager& manager, const std::vector<std::string>& names) {
  std::string out;
  for (const auto& info : manager.list()) {
    if (std::find(names.begin(), names.end(), info.name) != names.end()) {
      out += "\n  list(): " + info.name + " held, token " + std::to_string(info.token) + ", pid " +
             std::to_string(info.pid);
    }
  }
  for (const auto& name : names) {
    const auto info = manager.inspect(name);
    if (info.held || info.waiters != 0) {
      out += "\n  inspect(" + name + "): held=" + std::to_string(info.held) + " token " +
             std::to_string(info.token) + " pid " + std::to_string(info.pid) + " waiters " +
             std::to_string(info.waiters);
    }
  }
  return out;
}

void check_store_is_empty(baton::LockManager& manager, const std::vector<std::string>& names) {
  Step step(
      "torture: waiting for the store to forget every lock of the run (docs/design.md §1.5, §1.6, §1.9)");
  // A killed holder's lease ends within the lease [+1 s]; a killed waiter
  // stops counting within the dead-waiter bound.
  const auto bound = std::max<milliseconds>(torture::long_lease + 1s, dead_waiter_bound()) + 2s;
  std::string left;
  const bool empty = eventually(
      bound, [&] { return (left = leftovers(manager, names)).empty(); }, 50ms);
  INFO("docs/design.md §1.6/§1.9: " << bound.count()
                                    << " ms after every helper ended or was killed, the store "
                                    << "still shows the run's locks:" << left);
  CHECK(empty);
}

// Keeps a failing run's logs for a look, since the TempDir goes away.
std::string keep_logs(const fs::path& dir, std::uint64_t seed) {
  const auto kept = fs::temp_directory_path() / ("baton-torture-" + std::to_string(seed));
  std::error_code ec;
  fs::remove_all(kept, ec);
  fs::copy(dir, kept, fs::copy_options::recursive, ec);
  return ec ? "(could not keep the logs: " + ec.message() + ")" : kept.string();
}

std::string summary_text(const torture::Summary& s, std::size_t stops, std::size_t kills) {
  return std::to_string(s.grants) + " grants, " + std::to_string(s.reentries) + " re-entries, " +
         std::to_string(s.timeouts) + " timeouts, " + std::to_string(s.failed_tries) +
         " failed try_acquire, " + std::to_string(s.clears) + " clears, " + std::to_string(s.losses) +
         " lost leases, " + std::to_string(s.stale_rejected) + " writes fenced off, " +
         std::to_string(s.overlaps) + " overlapping entries, " + std::to_string(s.fifo_pairs) +
         " waiter pairs checked for FIFO, " + std::to_string(s.prompt_releases) +
         " releases checked for a prompt hand-off, " + std::to_string(stops) + " SIGSTOPs, " + std::to_string(kills) +
         " SIGKILLs, " + std::to_string(s.helpers_done) + " helpers finished";
}

// One failure per clause violated: how often, and the first few cases.
void report(const std::vector<torture::Finding>& findings) {
  std::map<std::string, std::vector<const torture::Finding*>> by_clause;
  for (const auto& f : findings) by_clause[f.clause].push_back(&f);
  for (const auto& [clause, list] : by_clause) {
    std::string text = clause + ": " + std::to_string(list.size()) + " violation(s)";
    for (std::size_t i = 0; i < list.size() && i < 3; ++i) text += "\n" + list[i]->message;
    if (list.size() > 3) text += "\n...";
    FAIL_CHECK(text);
  }
}

}  // namespace

TEST_CASE("torture: random operations, SIGKILLs and SIGSTOPs keep the lock contract",
          "[conformance][torture][process][slow]") {
  const std::uint64_t seed = torture_seed();
  const milliseconds duration = torture_duration();
  std::fprintf(stderr,
               "conformance torture (%s): seed %llu, %lld s; replay with BATON_CONFORMANCE_SEED=%llu\n",
               suite().name.c_str(), static_cast<unsigned long long>(seed),
               static_cast<long long>(duration.count() / 1000), static_cast<unsigned long long>(seed));
  WARN("torture seed " << seed << " (replay with BATON_CONFORMANCE_SEED=" << seed << ")");
  INFO("torture seed " << seed << " (replay with BATON_CONFORMANCE_SEED=" << seed << ")");

  TempDir dir("baton-torture");
  std::vector<std::string> names;
  for (int i = 0; i < torture::name_count; ++i) names.push_back(unique_name("torture"));
  auto manager = make_manager();
  const auto started = std::chrono::steady_clock::now();
  std::optional<Fleet> fleet;
  {
    Step step("torture: helpers running, with SIGKILLs and SIGSTOPs (seed " + std::to_string(seed) + ")");
    fleet.emplace(dir.path(), seed, torture::now_ns() + duration.count() * 1'000'000, names);
    for (const auto& action : make_schedule(seed, duration)) {
      std::this_thread::sleep_until(started + action.at);
      fleet->act(action);
    }
  }
  {
    Step step("torture: waiting for the helpers to finish their last operation");
    std::this_thread::sleep_until(started + duration);
    fleet->wait_all(30s);
  }
  check_store_is_empty(manager, names);

  Step step("torture: checking the history");
  torture::Summary summary;
  const auto findings = torture::check_history(dir.path(), fleet->stops(), fleet->kills(),
                                               {join_margin.count() * 1'000'000, prompt.count() * 1'000'000,
                                                dead_waiter_bound().count() * 1'000'000}, summary);
  const auto text = summary_text(summary, fleet->stops().size(), fleet->kills().size());
  std::fprintf(stderr, "conformance torture (%s): seed %llu: %s\n", suite().name.c_str(),
               static_cast<unsigned long long>(seed), text.c_str());
  INFO("history: " << text);
  const bool keep = !findings.empty() || std::getenv("BATON_CONFORMANCE_TORTURE_KEEP") != nullptr;
  const std::string kept = keep ? keep_logs(dir.path(), seed) : std::string();
  if (keep) std::fprintf(stderr, "conformance torture: logs kept in %s\n", kept.c_str());
  INFO("the run's logs are kept in " << (kept.empty() ? "(none: no violation)" : kept));
  report(findings);
  {
    INFO("too few grants for the history to mean anything");
    CHECK(summary.grants >= 20);
  }
}
