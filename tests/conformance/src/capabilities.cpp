#include "capabilities.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <mutex>
#include <stdexcept>

namespace baton::conformance::detail {

namespace {

struct Capability {
  std::string_view tag;
  std::string_view declared_by;  // the Suite fields that provide it
  std::function<bool(const Suite&)> present;
};

const std::vector<Capability>& capabilities() {
  static const std::vector<Capability> all{
      {"process", "Suite::multi_process is false", [](const Suite& s) { return s.multi_process; }},
      {"unreachable", "Suite::make_unreachable_backend is not set",
       [](const Suite& s) { return static_cast<bool>(s.make_unreachable_backend); }},
      {"store-pause", "Suite::pause_store and Suite::resume_store are not both set",
       [](const Suite& s) { return s.pause_store && s.resume_store; }},
      {"store-restart", "Suite::restart_store is not set",
       [](const Suite& s) { return static_cast<bool>(s.restart_store); }},
  };
  return all;
}

// Tags that name an area of the contract, or how a case runs.
constexpr std::array<std::string_view, 20> plain_tags{
    "conformance", "smoke",  "slow",   "exclusion", "reentrancy", "fifo", "timeout", "ttl",     "crash",   "lost",
    "tokens",      "inspect", "clear", "names",     "errors",     "std",  "store",   "torture", "lockset", "resource"};

bool has(const std::vector<std::string>& tags, std::string_view tag) {
  return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

struct CurrentCase {
  std::mutex mu;
  std::string name;
  std::vector<std::string> tags;
};

CurrentCase& current() {
  static CurrentCase c;
  return c;
}

}  // namespace

std::optional<std::string> missing_capability(const Suite& suite, const std::vector<std::string>& tags) {
  for (const auto& capability : capabilities()) {
    if (has(tags, capability.tag) && !capability.present(suite)) {
      return "needs [" + std::string(capability.tag) + "]: " + std::string(capability.declared_by);
    }
  }
  return std::nullopt;
}

std::vector<std::string> tag_problems(const std::vector<std::string>& tags) {
  std::vector<std::string> problems;
  if (!has(tags, "conformance")) problems.emplace_back("no [conformance] tag");
  for (const auto& tag : tags) {
    const bool capability = std::any_of(capabilities().begin(), capabilities().end(),
                                        [&](const Capability& c) { return c.tag == tag; });
    const bool plain = std::find(plain_tags.begin(), plain_tags.end(), tag) != plain_tags.end();
    if (!capability && !plain) problems.push_back("unknown tag [" + tag + "]");
  }
  return problems;
}

void set_current_case(std::string name, std::vector<std::string> tags) {
  std::lock_guard lock(current().mu);
  current().name = std::move(name);
  current().tags = std::move(tags);
}

std::string current_case_name() {
  std::lock_guard lock(current().mu);
  return current().name;
}

void require_case_tag(std::string_view tag, std::string_view use) {
  std::lock_guard lock(current().mu);
  if (current().name.empty() || has(current().tags, tag)) return;  // outside a case: a helper process
  throw std::logic_error("conformance: case \"" + current().name + "\" " + std::string(use) +
                         " but is not tagged [" + std::string(tag) +
                         "]: the capability rule (docs/writing-a-backend.md §5) lets backends without it "
                         "skip the case only when the case says what it needs");
}

}  // namespace baton::conformance::detail
