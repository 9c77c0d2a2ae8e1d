// baton/kit/registration.hpp: the usual registration of a backend.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "baton/backend.hpp"
#include "baton/registry.hpp"

namespace baton::kit {

// Registers `name` in `registry` with a factory that parses its config
// section with `parse` (which throws ConfigError naming the key) and builds
// the backend with `make`. `keys` lists the section's keys for listings
// (`baton backends`); it does not change what `parse` accepts. Thread-safe
// as Registry::add.
template <class Options>
void register_backend(Registry& registry, std::string name, Options (*parse)(const nlohmann::json& section),
                      std::shared_ptr<Backend> (*make)(const Options& options),
                      std::vector<BackendKey> keys = {}) {
  registry.add(Registration{std::move(name),
                            [parse, make](const nlohmann::json& section) { return make(parse(section)); },
                            std::move(keys),
                            {}});
}

}  // namespace baton::kit
