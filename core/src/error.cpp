#include "baton/error.hpp"

namespace baton {
namespace {
std::string compose(const std::string& key, const std::string& message, const std::string& source) {
  std::string out;
  if (!source.empty()) out += source + ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}
}  // namespace

ConfigError::ConfigError(std::string key, std::string message, std::string source)
    : Error(compose(key, message, source)),
      key_(std::move(key)),
      message_(std::move(message)),
      source_(std::move(source)) {}

StaleToken::StaleToken(std::string resource, std::uint64_t token, std::uint64_t highest)
    : Error("stale fencing token " + std::to_string(token) + " for resource '" + resource + "': " +
            std::to_string(highest) + " already admitted"),
      resource_(std::move(resource)),
      token_(token),
      highest_(highest) {}

}  // namespace baton
