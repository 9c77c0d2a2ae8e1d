// cli/conformance_main.cpp: `baton conformance`, the conformance suite
// (docs/design.md §2.4) on whatever backend a config names, with no C++ to
// write. The `baton` command hands the subcommand to this program,
// baton-conformance (conformance_command.cpp):
//
//   baton [--config PATH] conformance [--repeat N] [Catch2 arguments]
//
// The config is found as the command finds it (§6.2). Its path travels to
// the suite's own re-executions (one per case, and helper processes) in
// $BATON_CONFIG, so every process reaches the same store.
#include <stdlib.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <baton/baton.hpp>
#include <baton/conformance.hpp>

namespace {

constexpr int exit_config = 78;

// What the backend declares about itself (its registration's traits) is
// what the suite holds it to; a backend that declares nothing gets the
// suite's defaults.
void declare_traits(baton::conformance::Suite& suite, const baton::Config& config) {
  const auto registration = baton::Registry::global().find(config.backend);
  if (!registration || !registration->traits) return;
  const baton::BackendTraits traits = registration->traits(config.section);
  suite.multi_process = traits.multi_process;
  suite.frees_on_disconnect = traits.frees_on_disconnect;
  suite.dead_waiter_bound = traits.dead_waiter_bound;
  suite.survives_restart = traits.survives_restart;
  if (!traits.unreachable_section.is_null()) {
    suite.make_unreachable_backend = [name = config.backend, section = traits.unreachable_section] {
      return baton::Registry::global().make(name, section);
    };
    suite.unreachable_bound = traits.unreachable_bound;
  }
}

// Removes a leading `--config PATH` (or --config=PATH) from args; returns PATH.
std::optional<std::string> take_config(std::vector<std::string>& args) {
  if (args.size() >= 3 && args[1] == "--config") {
    std::string path = args[2];
    args.erase(args.begin() + 1, args.begin() + 3);
    return path;
  }
  if (args.size() >= 2 && std::string_view(args[1]).starts_with("--config=")) {
    std::string path = args[1].substr(9);
    args.erase(args.begin() + 1);
    return path;
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  baton::conformance::Suite suite;
  try {
    if (auto path = take_config(args)) {
      // Absolute, so re-executions in another directory would find it too.
      ::setenv("BATON_CONFIG", std::filesystem::absolute(*path).c_str(), 1);
    }
    baton::register_builtin_backends(baton::Registry::global());
    const baton::Config config = baton::find_config(std::nullopt);
    suite.name = config.backend;
    suite.make_backend = [config] { return baton::Registry::global().make(config.backend, config.section); };
    declare_traits(suite, config);
    suite.make_backend();  // a config the backend refuses is a config error, before any case runs
  } catch (const baton::ConfigError& e) {
    std::fprintf(stderr, "baton conformance: config error: %s\n", e.what());
    return exit_config;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "baton conformance: %s\n", e.what());
    return 69;  // the store cannot be reached (BackendUnavailable) or another failure to start
  }
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  return baton::conformance::main(static_cast<int>(args.size()), cargv.data(), suite);
}
