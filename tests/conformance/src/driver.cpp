#include "driver.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string_view>

#include "capabilities.hpp"
#include "catch_session.hpp"
#include "support.hpp"
#include "watchdog.hpp"

namespace baton::conformance::detail {

namespace {

constexpr const char* repeat_env = "BATON_CONFORMANCE_REPEAT";
constexpr int exit_failed = 1;
constexpr int exit_all_skipped = 77;
constexpr int exit_usage = 64;

// Catch2 options that list or explain rather than run: passed to Catch2 as
// they are (CMake's catch_discover_tests lists the cases this way).
bool lists_or_explains(const std::vector<std::string>& args) {
  static constexpr std::string_view informational[] = {
      "-l", "--list-tests", "-t", "--list-tags", "--list-test-names-only", "--list-reporters",
      "-h", "-?", "--help"};
  return std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return std::find(std::begin(informational), std::end(informational), a) != std::end(informational);
  });
}

std::optional<int> parse_repeat(const std::string& text) {
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < 1 || value > 100000) return std::nullopt;
  return static_cast<int>(value);
}

std::vector<char*> as_argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

}  // namespace

std::optional<DriverOptions> parse_driver_options(int argc, char** argv) {
  DriverOptions options;
  if (const char* env = std::getenv(repeat_env); env != nullptr && *env != '\0') {
    const auto n = parse_repeat(env);
    if (!n) {
      std::fprintf(stderr, "conformance: $%s must be a positive integer, not \"%s\"\n", repeat_env, env);
      return std::nullopt;
    }
    options.repeat = *n;
  }
  for (int i = 0; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool takes_value = arg == "--repeat" || arg == "--baton-case";
    if (takes_value && i + 1 >= argc) {
      std::fprintf(stderr, "conformance: %s needs a value\n", argv[i]);
      return std::nullopt;
    }
    if (arg == "--repeat") {
      const auto n = parse_repeat(argv[++i]);
      if (!n) {
        std::fprintf(stderr, "conformance: --repeat needs a positive integer, not \"%s\"\n", argv[i]);
        return std::nullopt;
      }
      options.repeat = *n;
    } else if (arg == "--baton-case") {
      options.single_case = argv[++i];
    } else if (arg == "--in-process") {
      options.in_process = true;
    } else if (arg == "--check-tags") {
      options.check_tags = true;
    } else {
      options.catch_args.emplace_back(arg);
    }
  }
  return options;
}

namespace {

// One run of one case in a child process.
struct CaseResult {
  bool passed = false;
  std::string verdict;  // "ok", or why it failed
  double seconds = 0;
  std::string output;   // the child's stdout and stderr
};

CaseResult run_case_process(const std::string& name, const std::vector<std::string>& catch_args,
                            const fs::path& log) {
  std::vector<std::string> argv{"/proc/self/exe"};
  argv.insert(argv.end(), catch_args.begin() + 1, catch_args.end());
  argv.insert(argv.end(), {"--baton-case", name});
  fs::remove(log);
  const auto started = std::chrono::steady_clock::now();
  baton::test::Process child(argv, {}, log);
  // The child's watchdog ends a case at case_timeout(); this bound only
  // catches a child that cannot even do that.
  auto rc = child.wait_exit(case_timeout() + 30s);
  CaseResult result;
  if (!rc) {
    child.kill();
    result.verdict = "no exit within the case bound + 30 s: killed";
  } else if (*rc == 0) {
    result.passed = true;
    result.verdict = "ok";
  } else if (*rc == watchdog_exit_code) {
    result.verdict = "ran past its time bound (watchdog)";
  } else {
    result.verdict = *rc > 128 ? "killed by signal " + std::to_string(*rc - 128) : "exit " + std::to_string(*rc);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.output = read_file(log).value_or("");
  return result;
}

struct Tally {
  std::map<std::string, int> failures;  // case name -> failed runs
  int passed = 0;
  int failed = 0;
};

void run_round(const std::vector<baton::test::CaseListing>& cases, const DriverOptions& options,
               const fs::path& log, Tally& tally) {
  for (const auto& c : cases) {
    if (missing_capability(suite(), c.tags)) continue;
    const auto result = run_case_process(c.name, options.catch_args, log);
    std::printf("  %-7s %6.1f s  %s%s\n", result.passed ? "ok" : "FAILED", result.seconds, c.name.c_str(),
                result.passed ? "" : ("  (" + result.verdict + ")").c_str());
    if (result.passed) {
      ++tally.passed;
    } else {
      ++tally.failed;
      ++tally.failures[c.name];
      std::printf("---- output of \"%s\" ----\n%s---- end of output ----\n", c.name.c_str(),
                  result.output.c_str());
    }
    std::fflush(stdout);
  }
}

void print_summary(const std::vector<baton::test::CaseListing>& cases, int repeat, const Tally& tally) {
  std::vector<std::pair<std::string, std::string>> skipped;
  for (const auto& c : cases) {
    if (auto why = missing_capability(suite(), c.tags)) skipped.emplace_back(c.name, *why);
  }
  std::printf("\nconformance '%s': %d passed, %d failed, %zu skipped (%zu cases, %d run%s of each)\n",
              suite().name.c_str(), tally.passed, tally.failed, skipped.size(), cases.size(), repeat,
              repeat == 1 ? "" : "s");
  if (!tally.failures.empty()) {
    std::printf("failed runs per case:\n");
    for (const auto& [name, count] : tally.failures) std::printf("  %d/%d  %s\n", count, repeat, name.c_str());
  }
  if (!skipped.empty()) {
    std::printf("skipped, the backend does not declare what they need:\n");
    for (const auto& [name, why] : skipped) std::printf("  %s: %s\n", name.c_str(), why.c_str());
  }
}

int run_isolated(const std::vector<baton::test::CaseListing>& cases, const DriverOptions& options) {
  TempDir dir("baton-conformance-driver");
  const auto log = dir / "case.log";
  Tally tally;
  for (int round = 1; round <= options.repeat; ++round) {
    std::printf("conformance '%s': run %d of %d, each case in a process of its own\n", suite().name.c_str(),
                round, options.repeat);
    run_round(cases, options, log, tally);
  }
  print_summary(cases, options.repeat, tally);
  if (tally.failed > 0) return exit_failed;
  return tally.passed == 0 && !cases.empty() ? exit_all_skipped : 0;
}

int check_tags(const std::vector<baton::test::CaseListing>& cases) {
  int bad = 0;
  for (const auto& c : cases) {
    for (const auto& problem : tag_problems(c.tags)) {
      std::printf("case \"%s\": %s\n", c.name.c_str(), problem.c_str());
      ++bad;
    }
  }
  std::printf("conformance: %zu cases, %d tag problem%s\n", cases.size(), bad, bad == 1 ? "" : "s");
  return bad == 0 ? 0 : exit_failed;
}

// Runs the selected cases that the Suite's capabilities allow, here, in one
// Catch2 session; lists the others as skipped.
int run_in_this_process(int argc, char** argv, const std::optional<std::string>& only) {
  bool found = false;
  const auto choose = [&only, &found](const std::vector<baton::test::CaseListing>& cases) {
    std::vector<std::string> names;
    for (const auto& c : cases) {
      if (only && c.name != *only) continue;
      found = true;
      if (auto why = missing_capability(suite(), c.tags)) {
        std::printf("conformance '%s': skipped \"%s\": %s\n", suite().name.c_str(), c.name.c_str(), why->c_str());
        continue;
      }
      names.push_back(c.name);
    }
    return names;
  };
  const int rc = baton::test::run_chosen_cases(argc, argv, choose, exit_all_skipped);
  if (only && !found) {
    std::fprintf(stderr, "conformance: no case named \"%s\" among those selected\n", only->c_str());
    return exit_usage;
  }
  return rc;
}

}  // namespace

int run_driver(const DriverOptions& options) {
  auto args = options.catch_args;
  auto argv = as_argv(args);
  const int argc = static_cast<int>(args.size());
  if (lists_or_explains(args)) return baton::test::run_catch_session(argc, argv.data());
  if (options.single_case || options.in_process) {
    return run_in_this_process(argc, argv.data(), options.single_case);
  }
  const auto cases = baton::test::selected_cases(argc, argv.data());
  if (!cases) return exit_usage;
  if (options.check_tags) return check_tags(*cases);
  if (cases->empty()) {
    std::fprintf(stderr, "conformance: no case matches the test specs (in a name, escape , [ ] * with \\)\n");
    return exit_usage;
  }
  return run_isolated(*cases, options);
}

}  // namespace baton::conformance::detail
