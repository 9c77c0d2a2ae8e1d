// baton/registry.hpp: backends by name, so a config can pick one.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
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

// A table of backend factories, and the name of the default backend (the one
// a config that names none uses). Nothing is registered implicitly: the
// built-in backends are added by baton::register_builtin_backends()
// (<baton/builtin.hpp>), a custom backend by add(). See docs/design.md §2.
//
// Thread-safety: all methods may be called concurrently. Not copyable, not
// movable.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds or replaces the factory for `name` (non-empty).
  void add(std::string name, BackendFactory factory);

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

  // The process-wide registry that LockManager::from_config and the config
  // loader use by default.
  static Registry& global();

 private:
  mutable std::mutex mu_;
  std::map<std::string, BackendFactory, std::less<>> factories_;
  std::string default_;
};

}  // namespace baton
