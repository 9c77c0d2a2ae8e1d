// The torture case's helper process (torture.hpp): until the end time it
// runs a random mix of acquire, acquire_for, try_acquire, re-entrant
// acquire, renew, release and clear, drawn from (seed, slot, incarnation),
// on a few names; inside each critical section it writes to the name's
// fenced resource. It logs every outcome, one line each:
//   t=NS ev=start slot=S inc=I pid=P
//   t=NS ev=begin name=N s=NS                (before a call that may queue)
//   t=NS ev=acq mode=acquire|for|try|reenter|regrant|stranger name=N id=ID s=NS e=NS ok=0|1
//        token=T ttl=MS auto=0|1 timeout=MS count=C
//   t=NS ev=lost name=N token=T how=callback|renew|release
//   t=NS ev=renew name=N id=ID token=T result=ok|lost
//   t=NS ev=release name=N id=ID token=T s=NS e=NS frees=0|1 result=ok|lost|logic
//   t=NS ev=clearing name=N s=NS            (before the call; alone if killed in it)
//   t=NS ev=clear name=N s=NS e=NS removed=0|1
//   t=NS ev=violation clause=C what=...      (a check the helper made itself)
//   t=NS ev=error op=OP what=...             (an unexpected exception)
//   t=NS ev=done
// Grant ids are "<slot>.<incarnation>.<n>", unique in the run.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "baton/error.hpp"
#include "support.hpp"
#include "torture.hpp"

namespace baton::conformance::detail::torture {

namespace {

struct Config {
  fs::path dir;
  std::uint64_t seed = 0;
  int slot = 0;
  int incarnation = 0;
  std::int64_t end_ns = 0;
  std::vector<std::string> names;
};

// O_APPEND and one write(2) a line: lines of the renewal thread's on_lost
// callback and of the main thread never mix.
class EventLog {
 public:
  explicit EventLog(const fs::path& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {
    if (fd_ < 0) throw std::runtime_error("torture helper: cannot open " + path.string());
  }
  ~EventLog() { ::close(fd_); }
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;
  void write(const std::string& event) const {
    const std::string line = "t=" + std::to_string(now_ns()) + " ev=" + event + "\n";
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      std::fprintf(stderr, "torture helper: short write to its log\n");
    }
  }

 private:
  int fd_;
};

enum class Mode { acquire, acquire_for, try_acquire };

// The grant a helper's critical section runs under.
struct Grant {
  int name = 0;
  std::string id;
  std::uint64_t token = 0;
  milliseconds ttl{0};
  bool auto_renew = true;
};

std::string n2s(std::int64_t v) {
  return std::to_string(v);
}

class TortureHelper {
 public:
  explicit TortureHelper(Config config);
  int run();

 private:
  void one_operation();
  void attempt(int name, Mode mode);
  void hold(Lock& lock, Grant grant);
  bool step(Lock& lock, Grant& grant);
  bool reenter(Lock& lock, Grant& grant);
  void renew(Lock& lock, const Grant& grant);
  void stranger(const Grant& grant);
  bool release(Lock& lock, const Grant& grant);
  void clear(int name);
  LockOptions options(int name, Grant& grant);
  void log_attempt(const char* mode, const Grant& g, std::int64_t s, bool ok, milliseconds timeout,
                   std::size_t count);
  // Before a call that may queue: a helper killed in it leaves this line
  // without its "acq" line, a waiter that may still stand in the queue.
  void log_begin(int name, std::int64_t s) { log_.write("begin name=" + n2s(name) + " s=" + n2s(s)); }
  void violation(const std::string& clause, const std::string& what) {
    log_.write("violation clause=" + clause + " what=" + what);
  }
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  void nap(int max_ms) { std::this_thread::sleep_for(milliseconds(uniform(0, max_ms))); }
  std::string next_id() { return n2s(config_.slot) + "." + n2s(config_.incarnation) + "." + n2s(++grants_); }

  Config config_;
  std::mt19937_64 rng_;
  EventLog log_;
  LockManager manager_;
  std::vector<FencedResource> resources_;
  int grants_ = 0;
  std::string doing_;  // the call in progress, for an error's report
};

std::mt19937_64 seeded(std::uint64_t seed, int slot, int incarnation) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(slot), static_cast<std::uint32_t>(incarnation)};
  return std::mt19937_64(seq);
}

TortureHelper::TortureHelper(Config config)
    : config_(std::move(config)),
      rng_(seeded(config_.seed, config_.slot, config_.incarnation)),
      log_(helper_log(config_.dir, config_.slot, config_.incarnation)),
      manager_(make_manager()) {
  for (std::size_t i = 0; i < config_.names.size(); ++i) {
    resources_.emplace_back(resource_file(config_.dir, static_cast<int>(i)));
  }
}

int TortureHelper::run() {
  log_.write("start slot=" + n2s(config_.slot) + " inc=" + n2s(config_.incarnation) +
             " pid=" + n2s(::getpid()));
  while (now_ns() < config_.end_ns) {
    try {
      one_operation();
    } catch (const std::exception& e) {
      log_.write("error op=" + doing_ + " what=" + e.what());
      std::this_thread::sleep_for(20ms);
    }
  }
  log_.write("done");
  return 0;
}

// Names are not equally hot, so queues form on the first.
void TortureHelper::one_operation() {
  const int r = uniform(0, 99);
  const int name = r < 60 ? 0 : r < 85 ? 1 : 2;
  const int op = uniform(0, 99);
  if (op < 35) {
    attempt(name, Mode::acquire);
  } else if (op < 65) {
    attempt(name, Mode::acquire_for);
  } else if (op < 86) {
    attempt(name, Mode::try_acquire);
  } else if (op < 87) {
    clear(name);
  } else {
    nap(30);
  }
}

// A random lease: short or long with background renewal, or short renewed
// by hand (renew() in the critical section).
LockOptions TortureHelper::options(int name, Grant& grant) {
  const int r = uniform(0, 9);
  LockOptions o;
  o.ttl = r >= 4 && r < 7 ? long_lease : short_lease;
  o.auto_renew = r < 7;
  o.on_lost = [this, name](std::string_view, std::uint64_t token) {
    log_.write("lost name=" + n2s(name) + " token=" + std::to_string(token) + " how=callback");
  };
  grant.name = name;
  grant.ttl = o.ttl;
  grant.auto_renew = o.auto_renew;
  return o;
}

void TortureHelper::log_attempt(const char* mode, const Grant& g, std::int64_t s, bool ok,
                                milliseconds timeout, std::size_t count) {
  log_.write(std::string("acq mode=") + mode + " name=" + n2s(g.name) + " id=" + (ok ? g.id : "-") +
             " s=" + n2s(s) + " e=" + n2s(now_ns()) + " ok=" + (ok ? "1" : "0") +
             " token=" + std::to_string(ok ? g.token : 0) + " ttl=" + n2s(g.ttl.count()) +
             " auto=" + (g.auto_renew ? "1" : "0") + " timeout=" + n2s(timeout.count()) +
             " count=" + n2s(static_cast<std::int64_t>(count)));
}

void TortureHelper::attempt(int name, Mode mode) {
  Grant g;
  doing_ = "lock";
  auto lock = manager_.lock(config_.names[name], options(name, g));
  const milliseconds timeout{mode == Mode::acquire_for ? uniform(10, 400) : 0};
  const std::int64_t s = now_ns();
  bool ok = true;
  doing_ = mode == Mode::acquire ? "acquire" : mode == Mode::acquire_for ? "acquire_for" : "try_acquire";
  if (mode != Mode::try_acquire) log_begin(name, s);
  if (mode == Mode::acquire) {
    lock.acquire();
  } else {
    ok = mode == Mode::acquire_for ? lock.acquire_for(timeout) : lock.try_acquire();
  }
  if (ok) {
    g.id = next_id();
    g.token = lock.token();
  }
  const char* label = mode == Mode::acquire ? "acquire" : mode == Mode::acquire_for ? "for" : "try";
  log_attempt(label, g, s, ok, timeout, lock.hold_count());
  if (ok && (g.token == 0 || lock.hold_count() != 1)) {
    violation("§1.2/§1.7", "a grant with token " + std::to_string(g.token) + " and hold count " +
                               n2s(static_cast<std::int64_t>(lock.hold_count())));
  }
  if (ok) {
    hold(lock, std::move(g));
  } else if (mode == Mode::try_acquire) {
    nap(20);
  }
}

// The critical section: enter the resource, a few steps, exit, release.
// The section is left on an error too, so that the error is what the
// checker reports, not an occupant that never left.
void TortureHelper::hold(Lock& lock, Grant grant) {
  resources_[grant.name].apply("enter", grant.id, grant.token);
  bool holding = true;
  try {
    for (int i = uniform(1, 4); i > 0 && holding; --i) {
      nap(80);
      holding = step(lock, grant);
    }
  } catch (...) {
    resources_[grant.name].apply("exit", grant.id, grant.token);
    throw;
  }
  resources_[grant.name].apply("exit", grant.id, grant.token);
  if (holding) release(lock, grant);
}

// One step inside the critical section; false when the instance no longer
// holds anything (and has no loss pending), so there is nothing to release.
bool TortureHelper::step(Lock& lock, Grant& grant) {
  const int r = uniform(0, 99);
  if (r < 45) {
    resources_[grant.name].apply("write", grant.id, grant.token);
  } else if (r < 65) {
    return reenter(lock, grant);
  } else if (r < 88) {
    renew(lock, grant);
  } else {
    stranger(grant);
  }
  return true;
}

// acquire_for on the holding instance: a re-entry (§1.2) unless the grant was
// lost meanwhile, when it is a new acquire (a "regrant").
bool TortureHelper::reenter(Lock& lock, Grant& grant) {
  if (!lock.holds()) return true;  // a loss is pending; the release reports it
  constexpr milliseconds timeout{200};
  const std::int64_t s = now_ns();
  doing_ = "re-entrant_acquire_for";
  log_begin(grant.name, s);
  const bool ok = lock.acquire_for(timeout);
  if (ok && lock.token() == grant.token) {
    const auto count = lock.hold_count();
    log_attempt("reenter", grant, s, true, timeout, count);
    if (count != 2 && lock.holds()) {
      violation("§1.2",
                "re-entry on a holding instance gave hold count " + n2s(static_cast<std::int64_t>(count)));
    }
    resources_[grant.name].apply("write", grant.id, grant.token);
    if (!release(lock, grant)) return false;
    if (lock.holds() && lock.hold_count() != 1)
      violation("§1.2", "a release after a re-entry did not lower the hold count to 1");
    return true;
  }
  Grant next = grant;
  next.id = ok ? next_id() : "-";
  next.token = ok ? lock.token() : 0;
  log_attempt("regrant", next, s, ok, timeout, lock.hold_count());
  if (!ok) return false;
  resources_[grant.name].apply("exit", grant.id, grant.token);
  grant = next;
  resources_[grant.name].apply("enter", grant.id, grant.token);
  return true;
}

void TortureHelper::renew(Lock& lock, const Grant& grant) {
  const std::string what =
      "renew name=" + n2s(grant.name) + " id=" + grant.id + " token=" + std::to_string(grant.token);
  doing_ = "renew";
  try {
    lock.renew();
    log_.write(what + " result=ok");
  } catch (const LockLost&) {
    log_.write(what + " result=lost");
    log_.write("lost name=" + n2s(grant.name) + " token=" + std::to_string(grant.token) + " how=renew");
  }
}

// Another instance of the held name, in this process: it contends like a
// stranger (§1.2), so its try_acquire() must fail while the grant lives.
void TortureHelper::stranger(const Grant& grant) {
  Grant g;
  doing_ = "lock_(second_instance)";
  auto other = manager_.lock(config_.names[grant.name], options(grant.name, g));
  const std::int64_t s = now_ns();
  doing_ = "try_acquire_(second_instance)";
  const bool ok = other.try_acquire();
  if (ok) {
    g.id = next_id();
    g.token = other.token();
  }
  log_attempt("stranger", g, s, ok, 0ms, other.hold_count());
  if (!ok) return;
  resources_[g.name].apply("enter", g.id, g.token);
  resources_[g.name].apply("exit", g.id, g.token);
  release(other, g);
}

// Returns false when the release reported a loss (§1.8), which ends the hold.
bool TortureHelper::release(Lock& lock, const Grant& grant) {
  const bool frees = lock.hold_count() == 1;  // else a re-entry's release
  const std::int64_t s = now_ns();
  std::string result = "ok";
  doing_ = "release";
  try {
    lock.release();
  } catch (const LockLost&) {
    result = "lost";
    log_.write("lost name=" + n2s(grant.name) + " token=" + std::to_string(grant.token) + " how=release");
  } catch (const std::logic_error&) {
    result = "logic";
  }
  log_.write("release name=" + n2s(grant.name) + " id=" + grant.id + " token=" + std::to_string(grant.token) +
             " s=" + n2s(s) + " e=" + n2s(now_ns()) + " frees=" + (frees ? "1" : "0") + " result=" + result);
  return result == "ok";
}

void TortureHelper::clear(int name) {
  const std::int64_t s = now_ns();
  doing_ = "clear";
  // Logged first: a helper killed inside clear() leaves this line alone, and
  // the store may still carry the clear out (docs/design.md §1.10).
  log_.write("clearing name=" + n2s(name) + " s=" + n2s(s));
  const bool removed = manager_.clear(config_.names[name]);
  log_.write("clear name=" + n2s(name) + " s=" + n2s(s) + " e=" + n2s(now_ns()) +
             " removed=" + (removed ? "1" : "0"));
}

}  // namespace

int run_helper_task(const std::vector<std::string>& a) {
  if (a.size() < 6) return 64;
  Config c;
  c.dir = a[0];
  c.seed = std::stoull(a[1]);
  c.slot = std::stoi(a[2]);
  c.incarnation = std::stoi(a[3]);
  c.end_ns = std::stoll(a[4]);
  c.names.assign(a.begin() + 5, a.end());
  TortureHelper helper(std::move(c));
  return helper.run();
}

}  // namespace baton::conformance::detail::torture
