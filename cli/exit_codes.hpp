// cli/exit_codes.hpp: the exit statuses of the `baton` command, in one table.
//
// This table is the only list. `baton --help` prints it (exit_status_help()),
// README.md and docs/design.md section 7 copy it, and
// scripts/check_exit_codes.py (ctest docs.exit_codes) fails when the README
// or the help output disagree with it. The numbers follow sysexits.h where
// one fits, and the shell's conventions otherwise.
//
// To change a status: edit its row (and constant) here, then the README's
// table; the check says what differs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace baton::cli {

// One documented exit status. `status` is how it is written ("75",
// "CMD's own", "128+N"); `code` is the number, or -1 for a family of
// numbers; `name` is the sysexits.h name where there is one; `meaning` is
// one plain-text sentence (no '|', no backquotes: it is shown as is in a
// Markdown table and in the terminal).
struct ExitStatus {
  std::string_view status;
  int code;
  std::string_view name;
  std::string_view meaning;
};

inline constexpr int exit_ok = 0;            // EX_OK
inline constexpr int exit_usage = 64;         // EX_USAGE
inline constexpr int exit_unavailable = 69;   // EX_UNAVAILABLE: backend unreachable
inline constexpr int exit_software = 70;      // EX_SOFTWARE: other backend error / internal
inline constexpr int exit_not_acquired = 75;  // EX_TEMPFAIL: busy (--no-wait) or timed out
inline constexpr int exit_lease_lost = 76;    // EX_PROTOCOL: the lease was lost while CMD ran
inline constexpr int exit_config = 78;        // EX_CONFIG
inline constexpr int exit_cannot_exec = 127;  // like the shell: CMD cannot be executed

// clang-format off
inline constexpr ExitStatus exit_statuses[] = {
  {"0", exit_ok, "EX_OK",
   "status, list, clear or backends succeeded (clear also when there was nothing to clear); --help, --version"},
  {"CMD's own", -1, "-",
   "run: CMD ran under the lock and exited with this status; 128+N if CMD was killed by signal N"},
  {"64", exit_usage, "EX_USAGE",
   "usage error: bad name (empty, over 1024 bytes, __baton prefix), bad or unknown flag, "
   "missing -- or CMD, negative --timeout, --timeout with --no-wait"},
  {"69", exit_unavailable, "EX_UNAVAILABLE",
   "backend unreachable (baton::BackendUnavailable), within its connect timeout"},
  {"70", exit_software, "EX_SOFTWARE",
   "other backend failure (baton::BackendError) or internal error"},
  {"75", exit_not_acquired, "EX_TEMPFAIL",
   "lock not acquired: busy with --no-wait, or --timeout passed"},
  {"76", exit_lease_lost, "EX_PROTOCOL",
   "the lease was lost while CMD ran (cleared, or expired because baton hung); "
   "CMD got SIGTERM, and SIGKILL 10 s later if still running"},
  {"78", exit_config, "EX_CONFIG",
   "config error: unknown key, wrong type, unknown backend, unset ${VAR}, unreadable file"},
  {"127", exit_cannot_exec, "-",
   "CMD cannot be executed (not found, not executable)"},
  {"128+N", -1, "-",
   "run was stopped by signal N (SIGINT, SIGTERM, SIGHUP) while still waiting; CMD did not run"},
};
// clang-format on

// Whether the table has a row for `code`. For the static_assert below.
constexpr bool documented(int code) {
  for (const auto& s : exit_statuses) {
    if (s.code == code) return true;
  }
  return false;
}

// Every constant above has its row.
static_assert(documented(exit_ok) && documented(exit_usage) && documented(exit_unavailable) &&
              documented(exit_software) && documented(exit_not_acquired) && documented(exit_lease_lost) &&
              documented(exit_config) && documented(exit_cannot_exec));

// The "Exit status:" epilog of `baton --help`: one line per row,
// "  STATUS  NAME  MEANING".
inline std::string exit_status_help() {
  std::string out = "Exit status:";
  for (const auto& s : exit_statuses) {
    std::string status(s.status);
    std::string name(s.name);
    status.resize(std::max<std::size_t>(status.size(), 11), ' ');
    name.resize(std::max<std::size_t>(name.size(), 15), ' ');
    out += "\n  " + status + name + std::string(s.meaning);
  }
  return out;
}

}  // namespace baton::cli
