// A test plugin whose register function registers nothing.
#include <baton/plugin.hpp>

namespace {

void register_nothing(baton::Registry&) {}

}  // namespace

BATON_PLUGIN(register_nothing)
