// The torture case's checker (torture.hpp): reads the helpers' logs and the
// fenced resources, and judges them against docs/design.md §1. The rules:
//   §1.1/§1.7  a write the resource fenced off (a token below the highest it
//              accepted) comes from a grant that may have ended (below)
//              before the higher-token grant entered;
//   §1.1       a grant enters the resource while another is inside only if
//              the one inside may have ended before;
//   §1.7       no two grants of a name share a token, and a grant whose
//              acquire started after another grant was returned has the
//              greater token;
//   §1.3       a waiter is not overtaken by one whose acquire started more
//              than the join margin later (check_fifo);
//   §1.4       acquire_for() never gives up before its timeout;
//   §1.3/§1.4  a release hands the lock on promptly to a live waiter
//              (check_promptness);
//   §1.5/§1.8  every reported loss belongs to a grant that may have ended;
//   §1.2, §1.8, §1.12  the helpers' own checks, release() results and
//              unexpected exceptions.
//
// What may legitimately end a grant before its holder releases it, and so
// excuse another grant of the name while the first holder still believes it
// holds ("the grant may have ended before time U"):
//   - a clear() of the name whose call overlaps [acquire start, U] (§1.10),
//     or one cut short by a SIGKILL that began before U;
//   - a SIGSTOP of the holder's process overlapping [acquire start, U] for at
//     least a third of the grant's lease: the background renewal runs every
//     third of the lease, so a shorter stop cannot make a lease run out
//     (§1.5), and by hand the helpers renew far more often than that;
//   - a SIGKILL of the holder's process before U (§1.6).
// Nothing else: a lost lease that none of these explains is itself a
// violation (a live, renewing holder keeps its lock, §1.5).
#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "support.hpp"
#include "torture.hpp"

namespace baton::conformance::detail::torture {

namespace {

constexpr std::int64_t ns_per_ms = 1'000'000;

// One "ev=acq" line: an acquisition attempt and its outcome.
struct Attempt {
  std::string mode, id, line;
  int name = 0, slot = 0, incarnation = 0;
  std::int64_t s = 0, e = 0, ttl_ms = 0, timeout_ms = 0;
  bool ok = false;
  std::uint64_t token = 0;
  bool is_grant() const { return ok && mode != "reenter"; }
  bool queues() const { return mode == "acquire" || mode == "for" || mode == "regrant"; }
};

struct Loss {
  int name = 0;
  std::uint64_t token = 0;
  std::int64_t t = 0;
  std::string line;
};

struct Clear {
  int name = 0;
  std::int64_t s = 0, e = 0;
};

// A release that freed the grant (not a re-entry's), and a call that may
// have queued and never returned (its helper was killed in it).
struct Event {
  int name = 0, slot = 0, incarnation = 0;
  std::int64_t s = 0, e = 0;
  std::string line;
};

// One record of a fenced resource, with the occupant it found.
struct Record {
  std::string op, id, verdict, occupant_before, line;
  std::uint64_t token = 0, max = 0;
  std::int64_t t = 0;
  std::size_t seq = 0;
};

struct History {
  std::vector<Attempt> attempts;
  std::vector<Loss> losses;
  std::vector<Clear> clears;
  std::vector<Clear> clearing;  // clear() calls begun in the file being read
  std::vector<Event> releases, unfinished;
  std::vector<std::string> reports;  // helper lines: violation, error, release=logic
  std::vector<std::vector<Record>> resources;
  std::size_t done = 0;
};

std::int64_t num(std::string_view line, std::string_view key) {
  const auto v = field(line, key);
  return v.empty() ? 0 : std::stoll(v);
}

std::uint64_t unum(std::string_view line, std::string_view key) {
  const auto v = field(line, key);
  return v.empty() ? 0 : std::stoull(v);
}

// How long after its start an interrupted clear() may still take effect.
constexpr std::int64_t interrupted_clear_bound_ns = 10'000'000'000;

void load_helper_line(History& h, const std::string& line, int slot, int incarnation) {
  const auto ev = field(line, "ev");
  if (ev == "begin") {
    h.unfinished.push_back({static_cast<int>(num(line, "name")), slot, incarnation, num(line, "s"), 0, line});
  } else if (ev == "release" && field(line, "frees") == "1" && field(line, "result") == "ok") {
    h.releases.push_back({static_cast<int>(num(line, "name")), slot, incarnation, num(line, "s"), num(line, "e"), line});
  }
  if (ev == "acq") {
    Attempt a;
    a.mode = field(line, "mode");
    a.id = field(line, "id");
    a.line = line;
    a.name = static_cast<int>(num(line, "name"));
    a.slot = slot;
    a.incarnation = incarnation;
    a.s = num(line, "s");
    a.e = num(line, "e");
    a.ttl_ms = num(line, "ttl");
    a.timeout_ms = num(line, "timeout");
    a.ok = field(line, "ok") == "1";
    a.token = unum(line, "token");
    h.attempts.push_back(std::move(a));
  } else if (ev == "lost") {
    h.losses.push_back({static_cast<int>(num(line, "name")), unum(line, "token"), num(line, "t"), line});
  } else if (ev == "clearing") {
    h.clearing.push_back({static_cast<int>(num(line, "name")), num(line, "s"), 0});
  } else if (ev == "clear") {
    h.clears.push_back({static_cast<int>(num(line, "name")), num(line, "s"), num(line, "e")});
  } else if (ev == "violation" || ev == "error" || (ev == "release" && field(line, "result") == "logic")) {
    h.reports.push_back(line);
  } else if (ev == "done") {
    ++h.done;
  }
}

void load_helpers(History& h, const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string leaf = entry.path().filename().string();
    int slot = 0, incarnation = 0;
    if (std::sscanf(leaf.c_str(), "helper-%d-%d.log", &slot, &incarnation) != 2) continue;
    const std::size_t first_begin = h.unfinished.size();
    for (const auto& line : read_lines(entry.path())) {
      load_helper_line(h, "helper-" + std::to_string(slot) + "-" + std::to_string(incarnation) + ": " + line,
                       slot, incarnation);
    }
    // A clear() begun but never logged as done was cut short by a SIGKILL;
    // the store may still have carried it out, at any time within the
    // bound of a call (its command timeout plus the end of the session it
    // ends): it counts as a clear from its start until then.
    const std::size_t ended = h.clears.size();
    for (const auto& c : h.clearing) {
      const bool done = std::any_of(h.clears.begin(), h.clears.begin() + static_cast<std::ptrdiff_t>(ended),
                                    [&](const Clear& d) { return d.name == c.name && d.s == c.s; });
      if (!done) h.clears.push_back({c.name, c.s, c.s + interrupted_clear_bound_ns});
    }
    h.clearing.clear();
    // A begin is finished by the attempt with the same start.
    std::set<std::int64_t> returned;
    for (const auto& a : h.attempts) {
      if (a.slot == slot && a.incarnation == incarnation) returned.insert(a.s);
    }
    const auto finished = [&](const Event& b) { return returned.count(b.s) > 0; };
    h.unfinished.erase(std::remove_if(h.unfinished.begin() + first_begin, h.unfinished.end(), finished),
                       h.unfinished.end());
  }
}

std::vector<Record> load_resource(const fs::path& path) {
  std::vector<Record> records;
  std::string occupant = "-";
  for (const auto& line : read_lines(path)) {
    if (line.find_first_not_of(' ') == std::string::npos) continue;
    Record r;
    r.op = field(line, "op");
    r.id = field(line, "id");
    r.verdict = field(line, "verdict");
    r.occupant_before = occupant;
    r.line = line.substr(0, line.find_last_not_of(' ') + 1);
    r.token = unum(line, "token");
    r.max = unum(line, "max");
    r.t = num(line, "t");
    r.seq = records.size();
    occupant = field(line, "occ");
    records.push_back(std::move(r));
  }
  return records;
}

class Checker {
 public:
  Checker(History h, std::vector<Signal> stops, std::vector<Signal> kills, CheckOptions options)
      : h_(std::move(h)), stops_(std::move(stops)), kills_(std::move(kills)), options_(options) {
    for (std::size_t i = 0; i < h_.attempts.size(); ++i) {
      const auto& a = h_.attempts[i];
      if (a.is_grant()) grant_by_id_[a.id] = i;
    }
    for (int n = 0; n < static_cast<int>(h_.resources.size()); ++n) {
      for (const auto& r : h_.resources[n]) {
        if (r.op == "enter") enters_.try_emplace(r.id, &r);
      }
    }
  }

  std::vector<Finding> run(Summary& summary);

 private:
  const Attempt* grant(const std::string& id) const {
    const auto it = grant_by_id_.find(id);
    return it == grant_by_id_.end() ? nullptr : &h_.attempts[it->second];
  }
  const Record* enter_of(const std::string& id) const {
    const auto it = enters_.find(id);
    return it == enters_.end() ? nullptr : it->second;
  }
  bool cleared_between(int name, std::int64_t from, std::int64_t to) const;
  std::int64_t stopped_between(const Attempt& a, std::int64_t from, std::int64_t to) const;
  bool killed_before(const Attempt& a, std::int64_t t) const;
  bool may_have_ended(const Attempt& g, std::int64_t until) const;
  void check_reports();
  void check_resource(int name);
  void check_tokens(int name);
  void check_losses();
  void check_fifo(int name);
  void check_timeouts();
  void check_promptness(int name);
  std::int64_t dead_by(const Event& call) const;
  void add(std::string clause, std::string message) {
    findings_.push_back({std::move(clause), std::move(message)});
  }

  History h_;
  std::vector<Signal> stops_, kills_;
  CheckOptions options_;
  std::map<std::string, std::size_t> grant_by_id_;
  std::map<std::string, const Record*> enters_;  // each grant's first "enter"
  std::vector<Finding> findings_;
  std::size_t fifo_pairs_ = 0;
  std::size_t prompt_releases_ = 0;
};

bool Checker::cleared_between(int name, std::int64_t from, std::int64_t to) const {
  return std::any_of(h_.clears.begin(), h_.clears.end(),
                     [&](const Clear& c) { return c.name == name && c.e >= from && c.s <= to; });
}

// The longest stop of a's process within [from, to], in ns (0: none).
std::int64_t Checker::stopped_between(const Attempt& a, std::int64_t from, std::int64_t to) const {
  std::int64_t longest = 0;
  for (const auto& s : stops_) {
    if (s.slot != a.slot || s.incarnation != a.incarnation) continue;
    longest = std::max(longest, std::min(s.end, to) - std::max(s.start, from));
  }
  return longest;
}

bool Checker::killed_before(const Attempt& a, std::int64_t t) const {
  return std::any_of(kills_.begin(), kills_.end(), [&](const Signal& k) {
    return k.slot == a.slot && k.incarnation == a.incarnation && k.start <= t;
  });
}

bool Checker::may_have_ended(const Attempt& g, std::int64_t until) const {
  return cleared_between(g.name, g.s, until) || killed_before(g, until) ||
         stopped_between(g, g.s, until) >= g.ttl_ms * ns_per_ms / 3;
}

std::string ms_text(std::int64_t ns) {
  return std::to_string(ns / ns_per_ms) + " ms";
}

void Checker::check_reports() {
  for (const auto& line : h_.reports) {
    const auto ev = field(line, "ev");
    if (ev == "violation") {
      add("docs/design.md " + field(line, "clause"), "a helper's own check failed: " + line);
    } else if (ev == "error") {
      add("docs/design.md §1.12 errors, not hangs",
          "an operation threw on a healthy store (contention and lost leases are results, not errors): " +
              line);
    } else {
      add("docs/design.md §1.8 lost-lease notification",
          "release() threw std::logic_error: the grant, or the loss of it, should still have been pending: " +
              line);
    }
  }
}

// A stale record: a grant wrote after a grant with a higher token had
// entered; allowed only if its own grant may have ended before that entry.
// An overlap: a grant entered while another was inside; allowed only if the
// one inside may have ended before the entry (its later writes are then
// fenced off, which the stale rule checks).
void Checker::check_resource(int name) {
  std::map<std::uint64_t, const Record*> first_enter;  // per token: when that grant certainly existed
  std::set<std::string> reported;
  for (const auto& r : h_.resources[name]) {
    if (r.op == "enter" && r.verdict != "stale") first_enter.try_emplace(r.token, &r);
    if (r.verdict == "stale") {
      const Attempt* w = grant(r.id);
      const auto newer = first_enter.find(r.max);
      const std::int64_t until = newer == first_enter.end() ? r.t : newer->second->t;
      if (w == nullptr || may_have_ended(*w, until) || !reported.insert(w->id).second) continue;
      const Attempt* n = newer == first_enter.end() ? nullptr : grant(newer->second->id);
      add("docs/design.md §1.1 mutual exclusion / §1.7 fencing tokens",
          "name " + std::to_string(name) + ": grant " + w->id + " (token " + std::to_string(w->token) +
              ") was fenced off by the resource after a grant with the higher token " +
              std::to_string(r.max) +
              " entered, though nothing had ended its grant (no clear() of the name, no SIGKILL, no SIGSTOP "
              "of "
              "a third of its lease): two grants were live at once, or a later grant got a lower token.\n  " +
              w->line + "\n  " + (n ? n->line : std::string("(newer grant not logged)")) +
              "\n  resource: " + r.line);
    } else if (r.verdict == "overlap") {
      const Attempt* a = grant(r.occupant_before);
      const Attempt* b = grant(r.id);
      if (a == nullptr || may_have_ended(*a, r.t) || !reported.insert(a->id).second) continue;
      add("docs/design.md §1.1 mutual exclusion",
          "name " + std::to_string(name) + ": grant " + r.id + " entered its critical section while grant " +
              a->id + " was inside, and nothing had ended " + a->id +
              "'s grant (no clear() of the name, no SIGKILL, no SIGSTOP of a third of its lease).\n  " +
              a->line + "\n  " + (b ? b->line : std::string("(grant not logged)")) +
              "\n  resource: " + r.line);
    }
  }
}

// Tokens never repeat, and a grant made after another was returned has the
// greater token (§1.7).
void Checker::check_tokens(int name) {
  std::vector<const Attempt*> grants;
  for (const auto& a : h_.attempts) {
    if (a.is_grant() && a.name == name) grants.push_back(&a);
  }
  std::map<std::uint64_t, const Attempt*> by_token;
  std::size_t duplicates = 0;
  for (const auto* g : grants) {
    const auto [it, fresh] = by_token.try_emplace(g->token, g);
    if (!fresh && duplicates++ < 3) {
      add("docs/design.md §1.7 fencing tokens", "name " + std::to_string(name) + ": two grants with token " +
                                                    std::to_string(g->token) + "\n  " + it->second->line +
                                                    "\n  " + g->line);
    }
  }
  auto by_end = grants;
  std::sort(by_end.begin(), by_end.end(), [](auto* x, auto* y) { return x->e < y->e; });
  std::sort(grants.begin(), grants.end(), [](auto* x, auto* y) { return x->s < y->s; });
  const Attempt* highest = nullptr;  // highest token among grants returned before the current start
  std::size_t j = 0, reported = 0;
  for (const auto* b : grants) {
    for (; j < by_end.size() && by_end[j]->e < b->s; ++j) {
      if (highest == nullptr || by_end[j]->token > highest->token) highest = by_end[j];
    }
    if (highest != nullptr && highest->token >= b->token && reported++ < 3) {
      add("docs/design.md §1.7 fencing tokens",
          "name " + std::to_string(name) + ": grant " + b->id + " got token " + std::to_string(b->token) +
              ", not greater than token " + std::to_string(highest->token) + " of grant " + highest->id +
              ", which had been returned before its acquire started.\n  " + highest->line + "\n  " + b->line);
    }
  }
}

// Every reported loss needs a cause (§1.5: a live process keeps its locks).
void Checker::check_losses() {
  std::map<std::pair<int, std::uint64_t>, const Attempt*> by_token;
  for (const auto& a : h_.attempts) {
    if (a.is_grant()) by_token.try_emplace({a.name, a.token}, &a);
  }
  std::set<std::string> reported;
  for (const auto& loss : h_.losses) {
    const auto it = by_token.find({loss.name, loss.token});
    if (it == by_token.end()) continue;
    const Attempt& g = *it->second;
    if (may_have_ended(g, loss.t) || !reported.insert(g.id).second) continue;
    add("docs/design.md §1.5 leases / §1.8 lost-lease notification",
        "grant " + g.id + " (lease " + std::to_string(g.ttl_ms) + " ms, " +
            (field(g.line, "auto") == "1" ? "renewed in the background" : "renewed by hand") +
            ") was reported lost though nothing could have ended it (no clear() of the name, no SIGSTOP of "
            "a third of its lease): a live holder keeps its lock.\n  " +
            g.line + "\n  " + loss.line);
  }
}

// No live waiter is overtaken (§1.3). A queued attempt A whose acquire
// started more than the join margin before attempt B's had reached the store
// before B did, unless A's process was stopped in between (its join may
// have been late). Then B must not be granted before A:
//   - A granted: B's grant may not enter the resource before A's does,
//     unless A's grant may have ended before B's entry (A was granted first,
//     then cleared or expired before it entered);
//   - A timed out: B may not be granted (returned) before A's deadline,
//     unless a clear() or a stop of A's process falls within A's attempt.
void Checker::check_fifo(int name) {
  std::vector<const Attempt*> queued, granted;
  for (const auto& a : h_.attempts) {
    if (a.name == name && a.queues()) queued.push_back(&a);
    if (a.name == name && a.is_grant()) granted.push_back(&a);
  }
  std::set<std::string> reported;
  for (const auto* pa : queued) {
    const Attempt& a = *pa;
    const std::int64_t deadline = a.s + a.timeout_ms * ns_per_ms;
    for (const auto* pb : granted) {
      const Attempt& b = *pb;
      if (&a == &b || b.s <= a.s + options_.join_margin_ns) continue;
      if (stopped_between(a, a.s, b.s) > 0) continue;
      bool overtaken = false;
      if (a.ok) {
        const Record* ea = enter_of(a.id);
        const Record* eb = enter_of(b.id);
        if (ea == nullptr || eb == nullptr || a.e <= b.s) continue;
        ++fifo_pairs_;
        overtaken = eb->seq < ea->seq && !may_have_ended(a, eb->t);
      } else {
        if (deadline <= b.e) continue;
        ++fifo_pairs_;
        overtaken = !cleared_between(name, a.s, a.e) && stopped_between(a, a.s, a.e) <= 0;
      }
      if (!overtaken || !reported.insert(a.line).second) continue;
      add("docs/design.md §1.3 FIFO", "name " + std::to_string(name) + ": a waiter whose acquire started " +
                                          ms_text(b.s - a.s) + " before another's was overtaken by it: " +
                                          (a.ok ? "the later one entered its critical section first"
                                                : "the later one was granted before the earlier one's "
                                                  "deadline, and the earlier one timed out") +
                                          ".\n  earlier: " + a.line + "\n  later:   " + b.line);
      break;
    }
  }
}

// acquire_for() gives up only when its time has passed (§1.4).
void Checker::check_timeouts() {
  constexpr std::int64_t slack = 5 * ns_per_ms;
  for (const auto& a : h_.attempts) {
    if (a.ok || (a.mode != "for" && a.mode != "regrant")) continue;
    if (a.e - a.s >= a.timeout_ms * ns_per_ms - slack) continue;
    add("docs/design.md §1.4 timeouts", "acquire_for(" + std::to_string(a.timeout_ms) +
                                            " ms) returned false after " + ms_text(a.e - a.s) + ":\n  " +
                                            a.line);
  }
}

// Until when `call`, which never returned, may have stood in the queue: its
// helper's SIGKILL plus the dead-waiter bound.
std::int64_t Checker::dead_by(const Event& call) const {
  for (const auto& k : kills_) {
    if (k.slot == call.slot && k.incarnation == call.incarnation) return k.start + options_.dead_waiter_bound_ns;
  }
  return std::numeric_limits<std::int64_t>::max();
}

// A release hands the lock on promptly (§1.3; the prompt is the one the
// timeout cases allow): when a live waiter that had certainly joined (its
// acquire started more than the join margin before the release) was still
// waiting when the release returned, the head of the queue (that waiter or
// one ahead of it) was granted, so some grant of the name was returned
// within a prompt of the release. Skipped where the lock may rightly be held back: a stopped
// waiter (it keeps its place, maybe the head's), a call that never returned
// (a killed waiter blocks the queue up to the dead-waiter bound; a killed
// process may have been granted without saying so), a waiter that gave up
// within the prompt (it may have been handed the lock first), a clear().
void Checker::check_promptness(int name) {
  std::size_t reported = 0;
  for (const auto& r : h_.releases) {
    const std::int64_t until = r.e + options_.prompt_ns;
    if (r.name != name || cleared_between(name, r.s, until)) continue;
    const auto blocks = [&](const Event& b) { return b.name == name && b.s < until && dead_by(b) > r.s; };
    if (std::any_of(h_.unfinished.begin(), h_.unfinished.end(), blocks)) continue;
    const Attempt* starved = nullptr;
    bool held_back = false;
    for (const auto& a : h_.attempts) {
      if (a.name != name || !a.queues() || a.s >= until || a.e <= r.s) continue;
      held_back = held_back || stopped_between(a, a.s, until) > 0 || (!a.ok && a.e <= until);
      const bool live_through = a.ok || a.s + a.timeout_ms * ns_per_ms > until;
      if (a.s < r.s - options_.join_margin_ns && a.e > r.e && live_through) starved = &a;
    }
    if (held_back || starved == nullptr) continue;
    ++prompt_releases_;
    const auto in_time = [&](const Attempt& g) {
      return g.name == name && g.is_grant() && g.e > r.s && g.e <= until;
    };
    if (std::any_of(h_.attempts.begin(), h_.attempts.end(), in_time) || reported++ >= 3) continue;
    add("docs/design.md §1.3 FIFO / §1.4 timeouts",
        "name " + std::to_string(name) + ": nobody was granted the lock within " + ms_text(options_.prompt_ns) +
            " of a release, though a live waiter queued " + ms_text(r.s - starved->s) +
            " before it was waiting:\n  release: " + r.line + "\n  waiter:  " + starved->line);
  }
}

std::vector<Finding> Checker::run(Summary& summary) {
  check_reports();
  for (int n = 0; n < static_cast<int>(h_.resources.size()); ++n) {
    check_resource(n);
    check_tokens(n);
    check_fifo(n);
    check_promptness(n);
    for (const auto& r : h_.resources[n]) {
      summary.stale_rejected += r.verdict == "stale";
      summary.overlaps += r.verdict == "overlap";
    }
  }
  check_losses();
  check_timeouts();
  for (const auto& a : h_.attempts) {
    summary.grants += a.is_grant();
    summary.reentries += a.ok && a.mode == "reenter";
    summary.timeouts += !a.ok && a.queues();
    summary.failed_tries += !a.ok && !a.queues();
  }
  std::set<std::pair<int, std::uint64_t>> lost;
  for (const auto& l : h_.losses) lost.insert({l.name, l.token});
  summary.losses = lost.size();
  summary.clears = h_.clears.size();
  summary.fifo_pairs = fifo_pairs_;
  summary.prompt_releases = prompt_releases_;
  summary.helpers_done = h_.done;
  return findings_;
}

}  // namespace

std::vector<Finding> check_history(const fs::path& dir, const std::vector<Signal>& stops,
                                   const std::vector<Signal>& kills, const CheckOptions& options,
                                   Summary& summary) {
  History h;
  load_helpers(h, dir);
  for (int n = 0; n < name_count; ++n) h.resources.push_back(load_resource(resource_file(dir, n)));
  return Checker(std::move(h), stops, kills, options).run(summary);
}

}  // namespace baton::conformance::detail::torture
