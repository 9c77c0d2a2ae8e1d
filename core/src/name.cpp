#include "baton/name.hpp"

#include <cstdio>
#include <string>

#include "baton/error.hpp"

namespace baton {

namespace {

bool is_kind_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

// The first byte of `kind` outside [a-z0-9_.-], or npos.
std::size_t bad_kind_byte(std::string_view kind) {
  for (std::size_t i = 0; i < kind.size(); ++i) {
    if (!is_kind_byte(kind[i])) return i;
  }
  return std::string_view::npos;
}

void validate_kind(std::string_view kind) {
  const std::string rule = "a resource lock kind is 1 to " + std::to_string(max_resource_kind_bytes) +
                           " bytes of [a-z0-9_.-]";
  if (kind.empty()) throw InvalidName("resource lock kind is empty; " + rule);
  if (kind.size() > max_resource_kind_bytes) {
    throw InvalidName("resource lock kind is " + std::to_string(kind.size()) + " bytes long; " + rule);
  }
  if (const std::size_t at = bad_kind_byte(kind); at != std::string_view::npos) {
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(kind[at]));
    throw InvalidName("resource lock kind has the byte " + std::string(byte) + " at offset " +
                      std::to_string(at) + "; " + rule);
  }
}

}  // namespace

void validate_name(std::string_view name, bool allow_reserved) {
  if (name.empty()) throw InvalidName("lock name is empty");
  if (name.size() > max_name_bytes) {
    throw InvalidName("lock name is " + std::to_string(name.size()) + " bytes long; the limit is " +
                      std::to_string(max_name_bytes));
  }
  if (!allow_reserved && name.substr(0, reserved_name_prefix.size()) == reserved_name_prefix) {
    throw InvalidName("lock names beginning with \"" + std::string(reserved_name_prefix) +
                      "\" are reserved for baton itself (resource locks are made by resource_lock(kind, name))");
  }
}

std::string resource_lock_name(std::string_view kind, std::string_view name) {
  validate_kind(kind);
  if (name.empty()) throw InvalidName("resource lock name is empty");
  const std::size_t limit = max_resource_name_bytes(kind);
  if (name.size() > limit) {
    throw InvalidName("resource lock name is " + std::to_string(name.size()) + " bytes long; with kind \"" +
                      std::string(kind) + "\" the limit is " + std::to_string(limit) + " (the full name \"" +
                      std::string(resource_lock_prefix) + std::string(kind) + "/...\" must fit in " +
                      std::to_string(max_name_bytes) + " bytes)");
  }
  std::string full;
  full.reserve(resource_lock_prefix.size() + kind.size() + 1 + name.size());
  full.append(resource_lock_prefix).append(kind).append(1, '/').append(name);
  return full;
}

std::optional<ResourceLockName> parse_resource_lock_name(std::string_view full) noexcept {
  if (full.size() > max_name_bytes || !full.starts_with(resource_lock_prefix)) return std::nullopt;
  const std::string_view rest = full.substr(resource_lock_prefix.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const ResourceLockName parts{rest.substr(0, slash), rest.substr(slash + 1)};
  if (parts.kind.empty() || parts.kind.size() > max_resource_kind_bytes) return std::nullopt;
  if (bad_kind_byte(parts.kind) != std::string_view::npos || parts.name.empty()) return std::nullopt;
  return parts;
}

}  // namespace baton
