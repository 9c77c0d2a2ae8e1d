// cli/run_spawn.cpp: posix_spawnp() of CMD (see run_spawn.hpp).
#include "run_spawn.hpp"

#include <spawn.h>

#include <string_view>

extern char** environ;

namespace baton::cli {

namespace {

// The environment of CMD: ours, with BATON_LOCK_NAME and BATON_FENCING_TOKEN
// (replacing any inherited ones).
std::vector<std::string> command_environment(const std::string& name, std::uint64_t token) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view v(*e);
    if (v.starts_with("BATON_LOCK_NAME=") || v.starts_with("BATON_FENCING_TOKEN=")) continue;
    env.emplace_back(v);
  }
  env.push_back("BATON_LOCK_NAME=" + name);
  env.push_back("BATON_FENCING_TOKEN=" + std::to_string(token));
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

Spawned spawn_command(const std::vector<std::string>& command, const std::string& name, std::uint64_t token,
                      const Signals& signals) {
  std::vector<std::string> env = command_environment(name, token);
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
