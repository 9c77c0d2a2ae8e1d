// For the conformance mains of server backends (PostgreSQL, Redis): a Suite
// whose backends are `make(options)`, with the unreachable-store check
// (docs/design.md §1.12) on `make(unreachable)`, where `unreachable` aims at
// a port nothing listens on. Its connects give up after 1 s; the suite
// allows 3 s for the BackendUnavailable.
//
// With $BATON_TEST_STORE_CONTROL set (tests/support/private_store.py sets it
// around a private server), the suite also gets the store fault hooks: each
// runs that command line with "pause", "resume" or "restart" appended. The
// backends then connect and run each command within 2 s, so a frozen store
// fails a call within 2 s (plus the call's own timeout), and the suite
// allows 5 s for the store to serve again after a resume or a restart.
#pragma once

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include <baton/conformance.hpp>

namespace baton::test {

// Runs `command` + " " + `action` through the shell; throws
// std::runtime_error with its output unless it exits 0.
inline void run_store_control(const std::string& command, const std::string& action) {
  const std::string line = command + " " + action + " 2>&1";
  FILE* out = ::popen(line.c_str(), "r");
  if (out == nullptr) throw std::runtime_error("store control: cannot run '" + line + "'");
  std::string text;
  char buf[512];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, out)) > 0;) text.append(buf, n);
  const int status = ::pclose(out);
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  throw std::runtime_error("store control '" + command + " " + action + "' failed (wait status " +
                           std::to_string(status) + "): " + text);
}

template <class Options>
baton::conformance::Suite server_suite(std::string name, Options options, Options unreachable,
                                       std::shared_ptr<baton::Backend> (*make)(const Options&)) {
  baton::conformance::Suite suite;
  suite.name = std::move(name);
  if (const char* control = std::getenv("BATON_TEST_STORE_CONTROL"); control != nullptr && *control != '\0') {
    const std::string command = control;
    suite.pause_store = [command] { run_store_control(command, "pause"); };
    suite.resume_store = [command] { run_store_control(command, "resume"); };
    suite.restart_store = [command] { run_store_control(command, "restart"); };
    options.connect_timeout = std::chrono::milliseconds(2000);
    options.command_timeout = std::chrono::milliseconds(2000);
    suite.recovery_bound = std::chrono::milliseconds(6000);
  }
  suite.make_backend = [options, make] { return make(options); };
  unreachable.connect_timeout = std::chrono::milliseconds(1000);
  suite.make_unreachable_backend = [unreachable, make] { return make(unreachable); };
  suite.unreachable_bound = std::chrono::milliseconds(3000);
  return suite;
}

}  // namespace baton::test
