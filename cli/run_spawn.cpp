// cli/run_spawn.cpp: posix_spawnp() of CMD (see run_spawn.hpp).
#include "run_spawn.hpp"

#include <spawn.h>

#include <algorithm>
#include <iterator>
#include <string_view>

#include "cli.hpp"

extern char** environ;

namespace baton::cli {

namespace {

// The variables that describe the held locks; the inherited ones are dropped.
constexpr std::string_view lock_variables[] = {"BATON_LOCK_NAME=", "BATON_FENCING_TOKEN=", "BATON_LOCK_NAMES=",
                                               "BATON_FENCING_TOKENS="};

// The environment of CMD: ours, with the lock variables of `tokens`.
std::vector<std::string> command_environment(const std::map<std::string, std::uint64_t>& tokens) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view v(*e);
    if (std::any_of(std::begin(lock_variables), std::end(lock_variables),
                    [&](std::string_view prefix) { return v.starts_with(prefix); })) {
      continue;
    }
    env.emplace_back(v);
  }
  if (tokens.size() == 1) {
    env.push_back("BATON_LOCK_NAME=" + tokens.begin()->first);
    env.push_back("BATON_FENCING_TOKEN=" + std::to_string(tokens.begin()->second));
    return env;
  }
  std::string names = "[";
  std::string object = "{";
  for (const auto& [name, token] : tokens) {
    if (names.size() > 1) {
      names += ',';
      object += ',';
    }
    const std::string quoted = json_quoted(name);
    names += quoted;
    object += quoted;
    object += ':';
    object += std::to_string(token);
  }
  env.push_back("BATON_LOCK_NAMES=" + names + "]");
  env.push_back("BATON_FENCING_TOKENS=" + object + "}");
  return env;
}

// A null-terminated array of pointers into `v`, which must outlive it.
std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Spawned spawn_command(const std::vector<std::string>& command, const std::map<std::string, std::uint64_t>& tokens,
                      const Signals& signals) {
  std::vector<std::string> env = command_environment(tokens);
  std::vector<char*> envp = c_strings(env);
  std::vector<std::string> argv_strings = command;
  std::vector<char*> argv = c_strings(argv_strings);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&attr, &signals.original_mask);
  posix_spawnattr_setsigdefault(&attr, &signals.handled);
  Spawned spawned;
  spawned.error = ::posix_spawnp(&spawned.pid, argv[0], nullptr, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  return spawned;
}

}  // namespace baton::cli
