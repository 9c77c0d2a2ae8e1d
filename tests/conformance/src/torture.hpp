// The torture case's pieces (test_torture.cpp): helper processes that run a
// seeded random mix of lock operations and log what they saw, a fenced
// resource they write to inside their critical sections, and the checker
// that judges the logs against the contract (docs/design.md §1).
//
// Every timestamp is CLOCK_MONOTONIC in nanoseconds: one clock for every
// process of the host, so events of different processes compare.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace baton::conformance::detail::torture {

using std::chrono::milliseconds;
namespace fs = std::filesystem;

// CLOCK_MONOTONIC now, in nanoseconds.
std::int64_t now_ns();

// ---- the shape of a run ------------------------------------------------------

inline constexpr int helper_count = 4;
inline constexpr int name_count = 3;

// The leases the helpers choose from. The short ones can run out while the
// test keeps a holder stopped (up to 1.5 s); the long one cannot.
inline constexpr milliseconds short_lease{1500};
inline constexpr milliseconds long_lease{3000};

// A helper's log: <dir>/helper-<slot>-<incarnation>.log, one event a line.
fs::path helper_log(const fs::path& dir, int slot, int incarnation);
// The fenced resource of name index `name`: <dir>/resource-<name>.
fs::path resource_file(const fs::path& dir, int name);

// The helper task: torture DIR SEED SLOT INCARNATION END_NS NAME...
int run_helper_task(const std::vector<std::string>& args);

// ---- the fenced resource -------------------------------------------------------

// What a lock protects, standing in for a storage service that checks fencing
// tokens (docs/design.md §1.7). Operations are serialized by flock(2) on the
// file, and each appends one fixed-size record (one pwrite, so a SIGKILL
// never leaves half a record) holding the verdict and the resource's state
// after it: the highest token accepted and the occupant (the grant that
// entered and has not exited). The file is therefore also the total order of
// every critical-section event of the name, across processes.
//
// Verdicts: an operation with a token below the highest accepted one is
// "stale" (rejected, state unchanged); an "enter" while another grant is the
// occupant is "overlap" (accepted; the occupant is replaced); anything else
// is "ok".
class FencedResource {
 public:
  explicit FencedResource(const fs::path& path);
  ~FencedResource();
  FencedResource(FencedResource&& other) noexcept;
  FencedResource& operator=(FencedResource&&) = delete;
  FencedResource(const FencedResource&) = delete;
  FencedResource& operator=(const FencedResource&) = delete;

  // op: "enter", "write" or "exit"; id names the grant. Returns the verdict.
  std::string apply(std::string_view op, const std::string& id, std::uint64_t token);

 private:
  int fd_ = -1;
};

// Size of one resource record, a divisor of the page size so a record never
// straddles two pages.
inline constexpr std::size_t record_size = 256;

// ---- the history and its checker -------------------------------------------------

// A SIGSTOP..SIGCONT window, or a SIGKILL (end == start), sent by the test to
// helper (slot, incarnation).
struct Signal {
  int slot = 0;
  int incarnation = 0;
  std::int64_t start = 0;
  std::int64_t end = 0;
};

struct CheckOptions {
  // A waiter whose acquire started more than this before another's has
  // certainly reached the store before the other (the join margin).
  std::int64_t join_margin_ns = 0;
  // How soon after a release a waiter that can react must be granted.
  std::int64_t prompt_ns = 0;
  // The backend's bound for a killed waiter to stop blocking the queue.
  std::int64_t dead_waiter_bound_ns = 0;
};

struct Finding {
  std::string clause;   // "docs/design.md §1.1 mutual exclusion", ...
  std::string message;  // what happened, with the records involved
};

struct Summary {
  std::size_t grants = 0, timeouts = 0, failed_tries = 0, reentries = 0, clears = 0, losses = 0,
              stale_rejected = 0, overlaps = 0, fifo_pairs = 0, prompt_releases = 0, helpers_done = 0;
};

// Reads every helper log and resource file under `dir` and checks them, with
// the test's stops and kills. Returns the violations (empty: none).
std::vector<Finding> check_history(const fs::path& dir, const std::vector<Signal>& stops,
                                   const std::vector<Signal>& kills, const CheckOptions& options,
                                   Summary& summary);

}  // namespace baton::conformance::detail::torture
