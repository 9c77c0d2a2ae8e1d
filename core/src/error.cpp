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

}  // namespace baton
