// A test plugin whose register function throws: the loader reports the
// exception's message.
#include <stdexcept>

#include <baton/plugin.hpp>

namespace {

void register_nothing(baton::Registry&) { throw std::runtime_error("the test plugin refuses to register"); }

}  // namespace

BATON_PLUGIN(register_nothing)
