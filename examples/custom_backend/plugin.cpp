// plugin.cpp: the flock backend as a baton plugin, libbaton_flock.so. A
// config names the file in "plugins" and picks the backend by name:
//
//   {"plugins": ["libbaton_flock.so"], "backend": "flock",
//    "flock": {"dir": "/var/lib/myapp/locks"}}
//
// This file reads that "flock" section, says what the backend promises the
// conformance suite (its traits), and exports the entry point baton calls.
#include <chrono>
#include <filesystem>
#include <memory>

#include <baton/config.hpp>
#include <baton/error.hpp>
#include <baton/kit/registration.hpp>
#include <baton/plugin.hpp>

#include "flock_backend.hpp"

namespace baton_flock {
namespace {

using std::chrono::milliseconds;

// The "flock" section. Unknown keys, wrong types and out-of-range values
// are ConfigErrors naming the key ("flock.poll_ms").
Options options_from_config(const nlohmann::json& section) {
  baton::ConfigSection s(section, "flock");
  Options o;
  const auto dir = s.string("dir");
  if (!dir || dir->empty()) throw baton::ConfigError("flock.dir", "is required: the directory of lock files");
  o.dir = *dir;
  if (auto v = s.milliseconds("poll_ms", milliseconds(1), std::chrono::seconds(10))) o.poll_interval = *v;
  if (auto v = s.boolean("sync_grants")) o.sync_grants = *v;
  s.finish();
  return o;
}

// A killed waiter's entry is removed at the next look of any participant
// (README.md §3), so a second bounds it. A directory under a missing parent
// is a store that cannot be reached; make_backend() says so at once.
baton::BackendTraits traits(const Options& options, const nlohmann::json& section) {
  baton::BackendTraits t;
  t.dead_waiter_bound = std::chrono::seconds(1);
  t.unreachable_section = section;
  t.unreachable_section["dir"] = (options.dir / "no-such-directory" / "locks").string();
  t.unreachable_bound = std::chrono::seconds(2);
  return t;
}

void register_flock(baton::Registry& registry) {
  baton::kit::register_backend(
      registry, "flock", &options_from_config, &make_backend,
      {{"dir", "directory of lock files on a local disk, created (one level) if missing (required)"},
       {"poll_ms", "how often a queued waiter looks at its place, 1 to 10000 (default 10)"},
       {"sync_grants", "flush each grant to disk, so no token repeats even across a power loss (default false)"}},
      &traits);
}

}  // namespace
}  // namespace baton_flock

BATON_PLUGIN(baton_flock::register_flock)
