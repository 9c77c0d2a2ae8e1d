#include "baton/name.hpp"

#include <string>

#include "baton/error.hpp"

namespace baton {

void validate_name(std::string_view name, bool allow_reserved) {
  if (name.empty()) throw InvalidName("lock name is empty");
  if (name.size() > max_name_bytes) {
    throw InvalidName("lock name is " + std::to_string(name.size()) + " bytes long; the limit is " +
                      std::to_string(max_name_bytes));
  }
  if (!allow_reserved && name.substr(0, reserved_name_prefix.size()) == reserved_name_prefix) {
    throw InvalidName("lock names beginning with \"" + std::string(reserved_name_prefix) +
                      "\" are reserved for baton itself");
  }
}

}  // namespace baton
