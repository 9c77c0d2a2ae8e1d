// cli/main.cpp: the `baton` command (docs/design.md section 7).
//
//   baton [--config PATH] run NAME... [--timeout SEC | --no-wait] [--ttl SEC] -- CMD [ARG...]
//   baton [--config PATH] status NAME      # one JSON object
//   baton [--config PATH] list             # one JSON object per line, each held lock
//   baton [--config PATH] clear [--resource] NAME  # force-release
//   baton [--config PATH] conformance [--repeat N] [Catch2 args]  # the suite on this backend
//   baton [--config PATH] backends         # one JSON object per available backend
//
// Exit statuses: the table in exit_codes.hpp (also the --help epilog).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <iostream>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>
#include <baton/backend.hpp>
#include <baton/config.hpp>
#include <baton/error.hpp>
#include <baton/lock.hpp>
#include <baton/lock_info.hpp>
#include <baton/lock_manager.hpp>
#include <baton/name.hpp>
#include <baton/options.hpp>
#include <baton/plugin_loader.hpp>
#include <baton/registry.hpp>
#include <baton/version.hpp>
#include <nlohmann/json.hpp>

#include "backends.hpp"
#include "cli.hpp"

namespace {

namespace cli = baton::cli;

constexpr const char* usage_run =
    "usage: baton [--config PATH] run NAME... [--timeout SEC | --no-wait] [--ttl SEC] -- CMD [ARG...]";
constexpr const char* usage_status = "usage: baton [--config PATH] status NAME";
constexpr const char* usage_list = "usage: baton [--config PATH] list";
constexpr const char* usage_clear = "usage: baton [--config PATH] clear [--resource] NAME";
constexpr const char* usage_backends = "usage: baton [--config PATH] backends";
constexpr const char* usage_any =
    "usage: baton [--config PATH] {run NAME... [--timeout SEC | --no-wait] [--ttl SEC] -- CMD [ARG...] "
    "| status NAME | list | clear [--resource] NAME | backends}  (see baton --help)";

// A usage error: the cause, then the usage line of the subcommand.
struct UsageError {
  std::string message;
  const char* usage = usage_any;
};

struct Parsed {
  std::string subcommand;
  std::string config;  // empty: not given
  std::string name;
  std::vector<std::string> names;  // run's
  std::optional<double> timeout;
  bool no_wait = false;
  std::optional<double> ttl;
  std::vector<std::string> run_extras;
  bool resource = false;  // clear's --resource
};

struct App {
  std::unique_ptr<CLI::App> app;
  CLI::App* run = nullptr;
  CLI::App* status = nullptr;
  CLI::App* list = nullptr;
  CLI::App* clear = nullptr;
  CLI::App* backends = nullptr;
};

App make_app(Parsed& p) {
  App a;
  a.app = std::make_unique<CLI::App>(
      "baton: named cross-process locks (fair FIFO, leased, fenced).\n"
      "Config lookup: --config PATH, $BATON_CONFIG, ./baton.json, else SQLite at ./baton.db.",
      "baton");
  a.app->footer(cli::exit_status_help());
  a.app->set_version_flag("--version", std::string("baton ") + BATON_VERSION);
  a.app->add_option("--config", p.config, "config file (JSON, see README)")->type_name("PATH");
  a.app->require_subcommand(1);

  a.run = a.app->add_subcommand(
      "run",
      "acquire every NAME (all or none), run CMD with BATON_LOCK_NAME and BATON_FENCING_TOKEN set (several names: "
      "BATON_LOCK_NAMES and BATON_FENCING_TOKENS), release when it exits");
  a.run->add_option("NAME", p.names, "lock names")->required();
  auto* timeout = a.run->add_option("--timeout", p.timeout, "give up (exit 75) after SEC seconds (default: wait forever)")
                      ->type_name("SEC");
  auto* no_wait = a.run->add_flag("--no-wait", p.no_wait, "exit 75 at once if the lock is busy");
  timeout->excludes(no_wait);
  a.run->add_option("--ttl", p.ttl, "lease in seconds, renewed while CMD runs (default: config, 30)")
      ->type_name("SEC");
  a.run->allow_extras();
  a.run->footer("Everything after -- is the command: CMD [ARG...].");

  a.status = a.app->add_subcommand("status", "print the state of NAME as one JSON object");
  a.status->add_option("NAME", p.name, "lock name")->required();

  a.list = a.app->add_subcommand("list", "print one JSON object per line for each held lock");

  a.clear = a.app->add_subcommand("clear", "free NAME whoever holds it; prints {\"name\":..,\"cleared\":..}");
  a.clear->add_option("NAME", p.name, "lock name")->required();
  a.clear->add_flag("--resource", p.resource,
                    "NAME is a resource lock's full name (__baton/KIND/NAME): required to clear one");

  a.backends = a.app->add_subcommand(
      "backends", "print one JSON object per available backend: built in or plugin, where from, config keys");
  return a;
}

const char* usage_of(const App& a) {
  if (a.run->parsed()) return usage_run;
  if (a.status->parsed()) return usage_status;
  if (a.list->parsed()) return usage_list;
  if (a.clear->parsed()) return usage_clear;
  if (a.backends->parsed()) return usage_backends;
  return usage_any;
}

// Parses argv into `p`. Returns an exit status when the command is done
// (help, version), nullopt to go on. Throws UsageError.
std::optional<int> parse(int argc, char** argv, Parsed& p, std::vector<std::string>& command, bool& had_dashdash) {
  // `run` takes everything after the first "--" verbatim as CMD, so CLI11
  // sees only what comes before it. The other subcommands get the whole
  // command line ("--" is then CLI11's end of options: `baton status -- -x`).
  int first = 1;  // the subcommand's index, after the global options
  while (first < argc) {
    std::string_view a(argv[first]);
    if (a == "--config") {
      first += 2;
    } else if (a.starts_with("-") && a != "--") {
      ++first;
    } else {
      break;
    }
  }
  int split = argc;
  if (first < argc && std::string_view(argv[first]) == "run") {
    for (int i = first + 1; i < argc; ++i) {
      if (std::string_view(argv[i]) == "--") {
        split = i;
        break;
      }
    }
  }
  had_dashdash = split < argc;

  App a = make_app(p);
  try {
    a.app->parse(split, argv);
  } catch (const CLI::CallForHelp& e) {
    return a.app->exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return a.app->exit(e);
  } catch (const CLI::CallForVersion& e) {
    return a.app->exit(e);
  } catch (const CLI::ParseError& e) {
    throw UsageError{e.what(), usage_of(a)};
  }
  if (a.run->parsed()) {
    p.subcommand = "run";
    p.run_extras = a.run->remaining();
  }
  if (a.status->parsed()) p.subcommand = "status";
  if (a.list->parsed()) p.subcommand = "list";
  if (a.clear->parsed()) p.subcommand = "clear";
  if (a.backends->parsed()) p.subcommand = "backends";
  if (had_dashdash) command.assign(argv + split + 1, argv + argc);
  return std::nullopt;
}

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(seconds * 1000.0)));
}

baton::LockManager make_manager(const std::string& config) {
  std::optional<std::filesystem::path> path;
  if (!config.empty()) path = config;
  return cli::open_manager(baton::find_config(path));
}

// `run`'s arguments, checked: a usage error names what is wrong.
cli::RunArgs run_args(const Parsed& p, std::vector<std::string> command, bool had_dashdash) {
  if (!had_dashdash) {
    if (!p.run_extras.empty() && p.run_extras.front().starts_with("-")) {
      throw UsageError{"unknown option " + p.run_extras.front(), usage_run};
    }
    throw UsageError{"missing '--' before CMD", usage_run};
  }
  if (!p.run_extras.empty()) {
    const std::string& x = p.run_extras.front();
    throw UsageError{(x.starts_with("-") ? "unknown option " : "unexpected argument before '--': ") + x, usage_run};
  }
  if (command.empty()) throw UsageError{"missing CMD after '--'", usage_run};
  if (p.timeout && !(std::isfinite(*p.timeout) && *p.timeout >= 0)) {
    throw UsageError{"--timeout must be a number of seconds >= 0", usage_run};
  }
  // A lease from 1 ms to one week (the bounds of defaults.ttl_seconds).
  if (p.ttl && !(std::isfinite(*p.ttl) && *p.ttl > 0 && *p.ttl <= 7.0 * 24 * 3600)) {
    throw UsageError{"--ttl must be a number of seconds > 0 (at most one week)", usage_run};
  }
  for (const auto& name : p.names) baton::validate_name(name);

  cli::RunArgs args;
  if (!p.config.empty()) args.config = p.config;
  args.names = p.names;
  args.timeout = p.timeout;
  args.no_wait = p.no_wait;
  if (p.ttl) args.ttl = std::max(seconds_to_ms(*p.ttl), std::chrono::milliseconds{1});
  args.command = std::move(command);
  return args;
}

// A name `status` shows: a user lock's, or a resource lock's full name
// (docs/design.md §1.14: read-only commands show resource locks); other
// reserved names are refused.
void validate_status_name(const std::string& name) {
  if (!baton::parse_resource_lock_name(name)) baton::validate_name(name);
}

// A name `clear` frees: a user lock's, or, only with --resource, a resource
// lock's full name (docs/design.md §1.14).
void validate_clear_name(const Parsed& p) {
  const bool is_resource = baton::parse_resource_lock_name(p.name).has_value();
  if (p.resource && !is_resource) {
    throw UsageError{"--resource: NAME is not a resource lock name (__baton/KIND/NAME)", usage_clear};
  }
  if (!p.resource && is_resource) {
    throw UsageError{"NAME is a resource lock (__baton/KIND/NAME); clear it with --resource", usage_clear};
  }
  if (!is_resource) baton::validate_name(p.name);
}

int status_command(const Parsed& p) {
  validate_status_name(p.name);
  auto manager = make_manager(p.config);
  std::string line = cli::info_json(manager.inspect(p.name));
  std::printf("%s\n", line.c_str());
  return 0;
}

// Held locks only, sorted by name, one JSON object per line.
int list_command(const Parsed& p) {
  auto manager = make_manager(p.config);
  auto infos = manager.list();
  std::sort(infos.begin(), infos.end(),
            [](const baton::LockInfo& a, const baton::LockInfo& b) { return a.name < b.name; });
  for (const auto& info : infos) {
    if (!info.held) continue;
    std::string line = cli::info_json(info);
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

int clear_command(const Parsed& p) {
  validate_clear_name(p);
  auto manager = make_manager(p.config);
  bool cleared = manager.clear(p.name);
  nlohmann::ordered_json j;
  j["name"] = p.name;
  j["cleared"] = cleared;
  std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}

// Loads every "*.so" file of the plugin search path's directories that is
// not loaded yet. One that fails is reported on stderr and skipped: a
// listing shows what works.
void load_plugins_on_path() {
  std::set<std::string> loaded;
  for (const auto& r : baton::Registry::global().registrations()) loaded.insert(r.origin);
  for (const auto& dir : baton::plugin_search_path()) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".so" && entry.is_regular_file(ec)) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      const auto absolute = std::filesystem::absolute(file, ec).lexically_normal();
      if (!loaded.insert(absolute.string()).second) continue;
      try {
        baton::load_plugin(baton::Registry::global(), absolute);
      } catch (const baton::ConfigError& e) {
        cli::error_line(std::string("skipped: ") + e.what());
      }
    }
  }
}

// Every backend this command can use, sorted by name: the config's
// plugins, the command's own plugins and those of the search path.
int backends_command(const Parsed& p) {
  std::optional<std::filesystem::path> path;
  if (!p.config.empty()) path = p.config;
  baton::find_config(path);  // loads its "plugins"; a broken config is an error here too
  for (const auto& failure : cli::load_modules()) cli::error_line("skipped: " + failure);
  load_plugins_on_path();
  const auto& registry = baton::Registry::global();
  const std::string default_backend = registry.default_backend();
  for (const auto& r : registry.registrations()) {
    nlohmann::ordered_json j;
    j["name"] = r.name;
    j["default"] = r.name == default_backend;
    j["origin"] = r.origin.empty() ? "built in" : r.origin;
    j["keys"] = nlohmann::ordered_json::array();
    for (const auto& key : r.keys) j["keys"].push_back({{"name", key.name}, {"description", key.description}});
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  return 0;
}

int run_main(int argc, char** argv) {
  Parsed p;
  std::vector<std::string> command;
  bool had_dashdash = false;
  if (auto done = parse(argc, argv, p, command, had_dashdash)) return *done;
  if (p.subcommand == "run") return cli::run(run_args(p, std::move(command), had_dashdash));
  if (p.subcommand == "status") return status_command(p);
  if (p.subcommand == "list") return list_command(p);
  if (p.subcommand == "clear") return clear_command(p);
  if (p.subcommand == "backends") return backends_command(p);
  throw UsageError{"missing subcommand", usage_any};
}

}  // namespace

int main(int argc, char** argv) {
  if (auto handed = cli::hand_to_conformance(argc, argv)) return *handed;
  int status = 0;
  try {
    cli::register_backends();
    status = run_main(argc, argv);
  } catch (const UsageError& e) {
    cli::error_line(e.message);
    std::fprintf(stderr, "%s\n", e.usage);
    status = cli::exit_usage;
  } catch (const baton::InvalidName& e) {
    cli::error_line(std::string("invalid lock name: ") + e.what());
    status = cli::exit_usage;
  } catch (const baton::ConfigError& e) {
    cli::error_line(std::string("config error: ") + e.what());
    status = cli::exit_config;
  } catch (const baton::BackendUnavailable& e) {
    cli::error_line(std::string("backend unavailable: ") + e.what());
    status = cli::exit_unavailable;
  } catch (const baton::LockLost& e) {
    cli::error_line(std::string("lease lost: ") + e.what());
    status = cli::exit_lease_lost;
  } catch (const baton::Error& e) {
    cli::error_line(std::string("backend error: ") + e.what());
    status = cli::exit_software;
  } catch (const std::exception& e) {
    cli::error_line(std::string("internal error: ") + e.what());
    status = cli::exit_software;
  }
  if (std::fflush(stdout) != 0 && status == 0) {
    cli::error_line("cannot write to stdout");
    status = cli::exit_software;
  }
  return status;
}
