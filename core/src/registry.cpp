#include "baton/registry.hpp"

#include <stdexcept>

#include "baton/error.hpp"

namespace baton {

void Registry::add(std::string name, BackendFactory factory) {
  if (name.empty()) throw std::invalid_argument("baton::Registry::add: a backend needs a name");
  std::lock_guard lock(mu_);
  factories_[std::move(name)] = std::move(factory);
}

void Registry::set_default(std::string name) {
  std::lock_guard lock(mu_);
  default_ = std::move(name);
}

std::string Registry::default_backend() const {
  std::lock_guard lock(mu_);
  return default_;
}

std::shared_ptr<Backend> Registry::make(std::string_view name, const nlohmann::json& section) const {
  BackendFactory factory;
  {
    std::lock_guard lock(mu_);
    if (name.empty()) name = default_;
    if (name.empty()) throw ConfigError("backend", "no backend named, and no default backend is registered");
    auto it = factories_.find(name);
    if (it == factories_.end()) {
      std::string known;
      for (const auto& [n, f] : factories_) known += (known.empty() ? "" : ", ") + n;
      throw ConfigError("backend", "unknown backend \"" + std::string(name) + "\" (available: " +
                                       (known.empty() ? "none registered" : known) + ")");
    }
    factory = it->second;
  }
  // Outside the lock: a factory may connect, or register other backends.
  return factory(section);
}

bool Registry::contains(std::string_view name) const {
  std::lock_guard lock(mu_);
  return factories_.find(name) != factories_.end();
}

std::vector<std::string> Registry::names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [n, f] : factories_) out.push_back(n);
  return out;
}

Registry& Registry::global() {
  static Registry registry;
  return registry;
}

}  // namespace baton
