// baton/name.hpp: the rules for lock names.
//
// A lock name is any non-empty byte string of at most 1024 bytes, used
// verbatim: quotes, spaces, '%', '*', newlines, NUL bytes and UTF-8 are all
// ordinary bytes and never reach a query or script as code. Names beginning
// with "__baton" are reserved for the framework's own resource locks.
#pragma once

#include <cstddef>
#include <string_view>

namespace baton {

inline constexpr std::size_t max_name_bytes = 1024;
inline constexpr std::string_view reserved_name_prefix = "__baton";

// Throws InvalidName (naming the rule broken) unless `name` is a valid user
// lock name. With `allow_reserved`, names under the reserved prefix pass too
// (for the framework's own use). Thread-safe; never blocks.
void validate_name(std::string_view name, bool allow_reserved = false);

}  // namespace baton
