#include "baton/registry.hpp"

#include "baton/error.hpp"

namespace baton {

void Registry::add(std::string name, BackendFactory factory) {
  std::lock_guard lock(mu_);
  factories_[std::move(name)] = std::move(factory);
}

std::shared_ptr<Backend> Registry::make(std::string_view name, const nlohmann::json& section) const {
  BackendFactory factory;
  {
    std::lock_guard lock(mu_);
    auto it = factories_.find(name);
    if (it == factories_.end()) {
      std::string known;
      for (const auto& [n, f] : factories_) known += (known.empty() ? "" : ", ") + n;
      throw ConfigError("backend", "unknown backend \"" + std::string(name) + "\" (this build has: " +
                                       (known.empty() ? "none registered" : known) + ")");
    }
    factory = it->second;
  }
  // Outside the lock: a factory may connect, which can take a while.
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
