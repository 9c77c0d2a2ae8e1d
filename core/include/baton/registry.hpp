// baton/registry.hpp: backends by name, so a config can pick one.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "baton/backend.hpp"

namespace baton {

// Builds a backend from its (already ${VAR}-expanded) config section. Should
// read it through baton::ConfigSection so unknown keys are rejected, and
// throw ConfigError / BackendUnavailable.
using BackendFactory = std::function<std::shared_ptr<Backend>(const nlohmann::json& section)>;

// One key of a backend's config section, for listings (`baton backends`):
// its name within the section and a one-line description.
struct BackendKey {
  std::string name;
  std::string description;
};

// What a backend declares about itself beyond the contract's minimum, so
// that the conformance suite run from a config (`baton conformance`, docs/
// design.md §2.4, §7.2) holds it to exactly that. Mirrors the declarations
// of baton::conformance::Suite. Aggregate; copyable.
struct BackendTraits {
  // True if locks are shared between processes on the store. False for a
  // store that lives in one process: the suite skips its [process] cases.
  bool multi_process = true;
  // True if the store frees a dead client's lock at once (its connection
  // closes); false: when its lease ends.
  bool frees_on_disconnect = false;
  // Upper bound for a SIGKILLed waiter to stop blocking the queue. Zero: the
  // suite's default, 5 s.
  std::chrono::milliseconds dead_waiter_bound{0};
  // True if held locks, leases and the token counter survive a restart of
  // the store.
  bool survives_restart = false;
  // A section of the same backend aimed at a store that cannot be reached
  // (a closed port, a missing directory). Null: the suite skips its
  // [unreachable] cases.
  nlohmann::json unreachable_section;
  // Upper bound for making or first using that backend to fail. Zero: the
  // suite's default, 10 s.
  std::chrono::milliseconds unreachable_bound{0};
};

// A backend's traits for one (already ${VAR}-expanded) config section. May
// throw ConfigError as the factory does.
using TraitsFactory = std::function<BackendTraits(const nlohmann::json& section)>;

// Everything the registry knows about one backend. Aggregate; copyable.
struct Registration {
  std::string name;
  BackendFactory factory;
  // The keys its section accepts; empty when the backend did not say.
  std::vector<BackendKey> keys;
  // Where it came from: empty for a backend added by the program itself,
  // else the path of the plugin that registered it (set by load_plugin()).
  std::string origin;
  // What it declares about itself; empty: BackendTraits{} for any section.
  TraitsFactory traits;
};

// A table of backend factories, and the name of the default backend (the one
// a config that names none uses). Nothing is registered implicitly: the
// built-in backends are added by baton::register_builtin_backends()
// (<baton/builtin.hpp>), a custom backend by add(), a plugin's by
// baton::load_plugin() (<baton/plugin_loader.hpp>). See docs/design.md §2.
//
// Thread-safety: all methods may be called concurrently. Not copyable, not
// movable.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds or replaces the factory for `name` (non-empty), with no keys and
  // no origin.
  void add(std::string name, BackendFactory factory);
  // Adds or replaces `registration.name` (non-empty; the factory non-null).
  void add(Registration registration);

  // Makes `name` the default backend. It need not be registered yet.
  void set_default(std::string name);
  // The default backend's name; empty when none was set.
  std::string default_backend() const;

  // Builds backend `name` (empty: the default backend) from `section`.
  // Throws ConfigError (key "backend") when no such backend is registered,
  // listing the ones that are. Blocks while the factory runs (it may
  // connect); the registry itself is not locked meanwhile.
  std::shared_ptr<Backend> make(std::string_view name, const nlohmann::json& section) const;
  bool contains(std::string_view name) const;
  // Every registered name, sorted.
  std::vector<std::string> names() const;
  // The registration of `name`, if there is one.
  std::optional<Registration> find(std::string_view name) const;
  // Every registration, sorted by name.
  std::vector<Registration> registrations() const;

  // The process-wide registry that LockManager::from_config and the config
  // loader use by default.
  static Registry& global();

 private:
  mutable std::mutex mu_;
  std::map<std::string, Registration, std::less<>> entries_;
  std::string default_;
};

}  // namespace baton
