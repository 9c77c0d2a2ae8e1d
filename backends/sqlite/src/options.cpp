// Options: from a config section, and with their defaults applied.
#include <chrono>
#include <system_error>

#include "baton/config.hpp"
#include "baton/error.hpp"
#include "baton/kit/defaults.hpp"
#include "baton/sqlite.hpp"
#include "settings.hpp"

namespace baton::sqlite {

using namespace std::chrono_literals;

Options options_from_config(const nlohmann::json& section) {
  ConfigSection config(section, "sqlite");
  Options options;
  if (auto path = config.string("path")) {
    if (path->empty()) throw ConfigError(config.path("path"), "must not be empty");
    options.path = *path;
  }
  if (auto v = config.milliseconds("busy_timeout_ms", 0ms, 24h)) options.busy_timeout = *v;
  if (auto v = config.milliseconds("heartbeat_ms", 0ms, 1h)) options.heartbeat_interval = *v;
  if (auto v = config.milliseconds("poll_ms", 0ms, 10s)) options.poll_interval = *v;
  config.finish();
  return options;
}

namespace detail {

Settings settings_from(const Options& options) {
  if (options.path.empty()) throw ConfigError("sqlite.path", "the database path must not be empty");
  Settings s;
  std::error_code ec;
  s.path = std::filesystem::absolute(options.path, ec);
  if (ec) throw BackendUnavailable("sqlite: cannot resolve " + options.path.string() + ": " + ec.message());
  s.busy_timeout = kit::or_default(options.busy_timeout, std::chrono::milliseconds(10s));
  s.heartbeat = kit::or_default(options.heartbeat_interval, kit::default_heartbeat_interval);
  s.poll = kit::or_default(options.poll_interval, std::chrono::milliseconds(2ms));
  return s;
}

}  // namespace detail
}  // namespace baton::sqlite
