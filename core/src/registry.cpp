#include "baton/registry.hpp"

#include <stdexcept>

#include "baton/error.hpp"

namespace baton {

void Registry::add(std::string name, BackendFactory factory) {
  add(Registration{std::move(name), std::move(factory), {}, {}, {}});
}

void Registry::add(Registration registration) {
  if (registration.name.empty()) throw std::invalid_argument("baton::Registry::add: a backend needs a name");
  if (!registration.factory) throw std::invalid_argument("baton::Registry::add: a backend needs a factory");
  std::lock_guard lock(mu_);
  std::string name = registration.name;
  entries_.insert_or_assign(std::move(name), std::move(registration));
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
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& [n, r] : entries_) known += (known.empty() ? "" : ", ") + n;
      throw ConfigError("backend", "unknown backend \"" + std::string(name) + "\" (available: " +
                                       (known.empty() ? "none registered" : known) + ")");
    }
    factory = it->second.factory;
  }
  // Outside the lock: a factory may connect, or register other backends.
  return factory(section);
}

bool Registry::contains(std::string_view name) const {
  std::lock_guard lock(mu_);
  return entries_.find(name) != entries_.end();
}

std::vector<std::string> Registry::names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [n, r] : entries_) out.push_back(n);
  return out;
}

std::optional<Registration> Registry::find(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::vector<Registration> Registry::registrations() const {
  std::lock_guard lock(mu_);
  std::vector<Registration> out;
  for (const auto& [n, r] : entries_) out.push_back(r);
  return out;
}

Registry& Registry::global() {
  static Registry registry;
  return registry;
}

}  // namespace baton
