// baton/name.hpp: the rules for lock names, and the reserved namespace of
// resource locks (docs/design.md §1.11, §1.14).
//
// A lock name is any non-empty byte string of at most 1024 bytes, used
// verbatim: quotes, spaces, '%', '*', newlines, NUL bytes and UTF-8 are all
// ordinary bytes and never reach a query or script as code. Names beginning
// with "__baton" are reserved for baton itself: its resource locks
// ("__baton/<kind>/<name>", made by LockManager::resource_lock()) and its
// backends' bookkeeping ("__baton.<word>"). LockManager::lock() and
// lock_set() refuse them, so a user lock can never collide with either.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace baton {

inline constexpr std::size_t max_name_bytes = 1024;
inline constexpr std::string_view reserved_name_prefix = "__baton";

// Where resource locks live inside the reserved prefix: a resource lock of
// kind K and name N is the lock named resource_lock_prefix + K + "/" + N.
inline constexpr std::string_view resource_lock_prefix = "__baton/";
// A kind is 1 to this many bytes of [a-z0-9_.-] (so never a '/').
inline constexpr std::size_t max_resource_kind_bytes = 64;

// Throws InvalidName (naming the rule broken) unless `name` is a valid user
// lock name. With `allow_reserved`, names under the reserved prefix pass too
// (for the framework's own use). Thread-safe; never blocks.
void validate_name(std::string_view name, bool allow_reserved = false);

// The longest name part a resource lock of `kind` may have: what is left of
// max_name_bytes after "__baton/", the kind and the separator, i.e.
// 1015 - kind.size() (1010 for "table"). Never blocks.
constexpr std::size_t max_resource_name_bytes(std::string_view kind) noexcept {
  const std::size_t fixed = resource_lock_prefix.size() + kind.size() + 1;
  return fixed < max_name_bytes ? max_name_bytes - fixed : 0;
}

// The full lock name of the resource lock of `kind` and `name`:
// "__baton/" + kind + "/" + name. `kind` is 1 to 64 bytes of [a-z0-9_.-];
// `name` is any non-empty byte string (slashes included) of at most
// max_resource_name_bytes(kind) bytes. Throws InvalidName naming the rule
// broken otherwise. The kind ends at the first '/' after the prefix, so
// distinct (kind, name) pairs always give distinct names. Thread-safe;
// never blocks.
std::string resource_lock_name(std::string_view kind, std::string_view name);

// The two parts of a resource lock's full name; views into that name.
struct ResourceLockName {
  std::string_view kind;
  std::string_view name;
};

// The kind and name part of `full` when it is a resource lock name that
// resource_lock_name() could have made, else nullopt (a user name, an
// internal "__baton.<word>" name, a bad kind, an empty name part). Never
// throws; never blocks.
std::optional<ResourceLockName> parse_resource_lock_name(std::string_view full) noexcept;

}  // namespace baton
