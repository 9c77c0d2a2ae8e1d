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

// A table of backend factories. The built-in backends register themselves in
// Registry::global() when their header is included (<baton/sqlite.hpp>,
// or the umbrella <baton/baton.hpp>); a custom backend calls add().
// Thread-safety: all methods may be called concurrently. Not copyable.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds or replaces the factory for `name`.
  void add(std::string name, BackendFactory factory);
  // Builds backend `name` from `section`. Throws ConfigError (key "backend")
  // when no such backend is registered, listing the ones that are.
  std::shared_ptr<Backend> make(std::string_view name, const nlohmann::json& section) const;
  bool contains(std::string_view name) const;
  std::vector<std::string> names() const;

  // The process-wide registry used by LockManager::from_config by default.
  static Registry& global();

 private:
  mutable std::mutex mu_;
  std::map<std::string, BackendFactory, std::less<>> factories_;
};

}  // namespace baton
