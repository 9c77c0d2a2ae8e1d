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
// (`baton backends`); it does not change what `parse` accepts. `traits`
// (null: BackendTraits{}) says what the backend promises for the options
// and section it is given, for `baton conformance`. Thread-safe as
// Registry::add.
template <class Options>
void register_backend(Registry& registry, std::string name, Options (*parse)(const nlohmann::json& section),
                      std::shared_ptr<Backend> (*make)(const Options& options),
                      std::vector<BackendKey> keys = {},
                      BackendTraits (*traits)(const Options& options, const nlohmann::json& section) = nullptr) {
  TraitsFactory traits_factory;
  if (traits != nullptr) {
    traits_factory = [parse, traits](const nlohmann::json& section) { return traits(parse(section), section); };
  }
  registry.add(Registration{std::move(name),
                            [parse, make](const nlohmann::json& section) { return make(parse(section)); },
                            std::move(keys),
                            {},
                            std::move(traits_factory)});
}

}  // namespace baton::kit
