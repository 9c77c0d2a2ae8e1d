// cli/cli.hpp: internals of the `baton` command shared by its source files
// (docs/design.md section 7 describes the command).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <baton/config.hpp>
#include <baton/lock_info.hpp>
#include <baton/lock_manager.hpp>

#include "exit_codes.hpp"  // the exit statuses (exit_usage, ...), in one table

namespace baton::cli {

// Grace period between the SIGTERM sent to CMD when the lease is lost and the
// SIGKILL that follows if CMD is still running.
inline constexpr std::chrono::seconds kill_grace{10};
static_assert(kill_grace == std::chrono::seconds(10), "exit_statuses' row for 76 says 10 s: update it");

struct RunArgs {
  std::optional<std::filesystem::path> config;
  // Lock names as given (at least one); all are held, or none.
  std::vector<std::string> names;
  // Seconds to wait; nullopt: forever.
  std::optional<double> timeout;
  bool no_wait = false;
  // Lease; zero: the config's default.
  std::chrono::milliseconds ttl{0};
  std::vector<std::string> command;  // never empty
};

// The manager `config` asks for, loading its backend's module first when
// the backend is one the command keeps out of its own start-up
// (modules.cpp). Throws as LockManager::from_config(), and baton::Error
// when the module cannot be loaded.
LockManager open_manager(const Config& config);

// `baton run`. Returns the exit status. Throws baton::Error subclasses for
// failures that main() maps to exit statuses.
int run(const RunArgs& args);

// One line on stderr: "baton: " + message.
void error_line(std::string_view message);

// `text` as a JSON string literal (quotes included); bytes that are not valid
// UTF-8 become U+FFFD. Used to show lock names in messages on one line.
std::string json_quoted(std::string_view text);

// The JSON object `status` and `list` print for one lock, on one line.
std::string info_json(const LockInfo& info);

// When argv is `baton [--config PATH] conformance ...`, replaces this
// process with baton-conformance (conformance_command.cpp); returns an exit
// status only if that fails. Nullopt for any other command line.
std::optional<int> hand_to_conformance(int argc, char** argv);

}  // namespace baton::cli
