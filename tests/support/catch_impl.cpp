// Catch2's implementation, compiled once per build for every test program
// (the conformance library included). Catch::Session is declared only here:
// programs reach it through catch_session.hpp.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "catch_session.hpp"

namespace baton::test {

int run_catch_session(int argc, char** argv) { return Catch::Session().run(argc, argv); }

namespace {

std::vector<CaseListing> listed(const Catch::Config& config) {
  std::vector<CaseListing> out;
  for (const auto& test : Catch::filterTests(Catch::getAllTestCasesSorted(config), config.testSpec(), config)) {
    const auto& info = test.getTestCaseInfo();
    CaseListing listing{info.name, {}};
    for (const auto& tag : info.tags) listing.tags.push_back(Catch::toLower(tag));
    out.push_back(std::move(listing));
  }
  return out;
}

}  // namespace

std::optional<std::vector<CaseListing>> selected_cases(int argc, char** argv) {
  Catch::Session session;
  if (session.applyCommandLine(argc, argv) != 0) return std::nullopt;
  return listed(session.config());
}

int run_chosen_cases(int argc, char** argv,
                     const std::function<std::vector<std::string>(const std::vector<CaseListing>&)>& choose,
                     int nothing_chosen) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  const auto chosen = choose(listed(session.config()));
  if (chosen.empty()) return nothing_chosen;
  auto data = session.configData();
  data.testsOrTags.clear();
  for (const auto& name : chosen) data.testsOrTags.push_back(exact_case_spec(name));
  session.useConfigData(data);  // the config is built again from these specs
  return session.run();
}

std::string exact_case_spec(const std::string& name) {
  std::string spec;
  for (const char c : name) {
    if (c == '\\' || c == '[' || c == ']' || c == ',' || c == '*') spec += '\\';
    spec += c;
  }
  return spec;
}

}  // namespace baton::test
