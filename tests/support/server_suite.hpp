// For the conformance mains of server backends (PostgreSQL, Redis): a Suite
// whose backends are `make(options)`, with the unreachable-store check
// (docs/design.md §1.12) on `make(unreachable)`, where `unreachable` aims at
// a port nothing listens on. Its connects give up after 1 s; the suite
// allows 3 s for the BackendUnavailable.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <baton/conformance.hpp>

namespace baton::test {

template <class Options>
baton::conformance::Suite server_suite(std::string name, Options options, Options unreachable,
                                       std::shared_ptr<baton::Backend> (*make)(const Options&)) {
  baton::conformance::Suite suite;
  suite.name = std::move(name);
  suite.make_backend = [options, make] { return make(options); };
  unreachable.connect_timeout = std::chrono::milliseconds(1000);
  suite.make_unreachable_backend = [unreachable, make] { return make(unreachable); };
  suite.unreachable_bound = std::chrono::milliseconds(3000);
  return suite;
}

}  // namespace baton::test
