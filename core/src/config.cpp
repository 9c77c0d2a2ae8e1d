#include "baton/config.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "baton/error.hpp"
#include "baton/plugin_loader.hpp"
#include "baton/registry.hpp"

namespace baton {
namespace {

using nlohmann::json;

constexpr std::string_view type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::binary: return "binary";
    case json::value_t::discarded: return "invalid";
    default: return "a number";
  }
}

std::string join(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

// Replaces ${VAR} from the environment; "$${" stays a literal "${".
std::string expand(const std::string& in, const std::string& key) {
  std::string out;
  for (std::size_t i = 0; i < in.size();) {
    if (in.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
    } else if (in.compare(i, 2, "${") == 0) {
      const auto end = in.find('}', i + 2);
      if (end == std::string::npos) throw ConfigError(key, "unterminated \"${\" in string");
      const std::string var = in.substr(i + 2, end - i - 2);
      if (var.empty()) throw ConfigError(key, "empty variable name in \"${}\"");
      const char* value = std::getenv(var.c_str());
      if (value == nullptr) throw ConfigError(key, "environment variable " + var + " is not set");
      out += value;
      i = end + 1;
    } else {
      out += in[i++];
    }
  }
  return out;
}

void expand_all(json& v, const std::string& key) {
  if (v.is_string()) {
    v = expand(v.get<std::string>(), key);
  } else if (v.is_object()) {
    for (auto& [k, child] : v.items()) expand_all(child, join(key, k));
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) expand_all(v[i], key + "[" + std::to_string(i) + "]");
  }
}

// The backend a document picks: its "backend" key, else the registry's default.
std::string chosen_backend(const json& document, const Registry& registry) {
  if (auto it = document.find("backend"); it != document.end()) {
    if (!it->is_string()) throw ConfigError("backend", "must be a string, not " + std::string(type_name(*it)));
    std::string name = expand(it->get<std::string>(), "backend");
    if (name.empty()) throw ConfigError("backend", "must not be empty");
    return name;
  }
  std::string name = registry.default_backend();
  if (name.empty()) throw ConfigError("backend", "missing, and no default backend is registered");
  return name;
}

// Top-level keys: "plugins", "backend", "defaults" and the section of any
// registered backend (only the chosen one is read; the others may be kept
// for later).
void reject_unknown_keys(const json& document, const std::string& backend, const Registry& registry) {
  for (const auto& [key, value] : document.items()) {
    const bool known = key == "plugins" || key == "backend" || key == "defaults" || key == backend ||
                       registry.contains(key);
    if (!known) throw ConfigError(key, "unknown key");
  }
}

// Loads the document's "plugins" into `registry`, in order, before the
// backend is chosen, so that a plugin's backend can be named. A failure
// keeps the loader's message under the key "plugins[i]".
std::vector<std::filesystem::path> load_plugins(const json& document, const std::filesystem::path& base_dir,
                                                Registry& registry) {
  std::vector<std::filesystem::path> loaded;
  auto it = document.find("plugins");
  if (it == document.end()) return loaded;
  if (!it->is_array()) {
    throw ConfigError("plugins", "must be an array of strings, not " + std::string(type_name(*it)));
  }
  for (std::size_t i = 0; i < it->size(); ++i) {
    const std::string key = "plugins[" + std::to_string(i) + "]";
    const json& entry = (*it)[i];
    if (!entry.is_string()) throw ConfigError(key, "must be a string, not " + std::string(type_name(entry)));
    const std::string name = expand(entry.get<std::string>(), key);
    if (name.empty()) throw ConfigError(key, "must not be empty");
    try {
      loaded.push_back(load_plugin(registry, find_plugin(name, base_dir)).path);
    } catch (const ConfigError& e) {
      throw ConfigError(key, e.message());
    }
  }
  return loaded;
}

std::chrono::milliseconds parse_default_ttl(const json& document) {
  auto it = document.find("defaults");
  if (it == document.end()) return std::chrono::milliseconds::zero();
  json defaults = *it;
  expand_all(defaults, "defaults");
  ConfigSection section(defaults, "defaults");
  // A lease shorter than a millisecond cannot be renewed in time, and one
  // longer than a week is a hang waiting to happen; "forever" is only for
  // code that asks for it explicitly.
  auto ttl = section.milliseconds("ttl_seconds", std::chrono::milliseconds(1), std::chrono::hours(24 * 7));
  section.finish();
  return ttl.value_or(std::chrono::milliseconds::zero());
}

// A document's config; relative plugin paths are taken from `base_dir`
// (empty: the current directory).
Config parse_document(const json& document, std::string source, const std::filesystem::path& base_dir,
                      Registry& registry) {
  try {
    if (!document.is_object()) {
      throw ConfigError("", "the config must be a JSON object, not " + std::string(type_name(document)));
    }
    Config config;
    config.source = source;
    config.plugins = load_plugins(document, base_dir, registry);
    config.backend = chosen_backend(document, registry);
    reject_unknown_keys(document, config.backend, registry);
    if (auto it = document.find(config.backend); it != document.end()) {
      if (!it->is_object()) {
        throw ConfigError(config.backend, "must be an object, not " + std::string(type_name(*it)));
      }
      config.section = *it;
      expand_all(config.section, config.backend);
    }
    config.default_ttl = parse_default_ttl(document);
    return config;
  } catch (const ConfigError& e) {
    if (!e.source().empty()) throw;
    throw ConfigError(e.key(), e.message(), source);
  }
}

json parse_json_text(std::string_view text, const std::string& source) {
  json document;
  try {
    document = json::parse(text.begin(), text.end(), nullptr, true, /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    // nlohmann's message carries the line and column.
    std::string message = e.what();
    if (auto pos = message.find("parse error"); pos != std::string::npos) message = message.substr(pos);
    throw ConfigError("", "invalid JSON: " + message, source);
  } catch (const json::out_of_range& e) {
    // A number too large for a double (1e400) is out_of_range.406 in
    // nlohmann, not a parse_error.
    std::string message = e.what();
    if (auto pos = message.find("] "); pos != std::string::npos) message = message.substr(pos + 2);
    throw ConfigError("", "invalid JSON: " + message, source);
  }
  return document;
}

}  // namespace

Config parse_config(const json& document, std::string source, Registry& registry) {
  return parse_document(document, std::move(source), {}, registry);
}

Config parse_config_text(std::string_view text, std::string source, Registry& registry) {
  json document = parse_json_text(text, source);
  return parse_document(document, std::move(source), {}, registry);
}

Config load_config_file(const std::filesystem::path& path, Registry& registry) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    throw ConfigError("", exists ? "cannot read the file" : "no such file", path.string());
  }
  std::ostringstream text;
  text << in.rdbuf();
  json document = parse_json_text(text.str(), path.string());
  return parse_document(document, path.string(), path.parent_path(), registry);
}

Config find_config(const std::optional<std::filesystem::path>& explicit_path, Registry& registry) {
  if (explicit_path) return load_config_file(*explicit_path, registry);
  if (const char* env = std::getenv("BATON_CONFIG"); env != nullptr && *env != '\0') {
    return load_config_file(env, registry);
  }
  std::error_code ec;
  if (std::filesystem::exists("baton.json", ec)) return load_config_file("baton.json", registry);
  return parse_config(json::object(), "<default>", registry);
}

ConfigSection::ConfigSection(const json& section, std::string prefix)
    : section_(section), prefix_(std::move(prefix)) {
  if (!section_.is_object()) {
    throw ConfigError(prefix_, "must be an object, not " + std::string(type_name(section_)));
  }
}

std::string ConfigSection::path(std::string_view key) const { return join(prefix_, key); }

const json* ConfigSection::find(std::string_view key) {
  seen_.emplace(key);
  auto it = section_.find(key);
  return it == section_.end() ? nullptr : &*it;
}

std::optional<std::string> ConfigSection::string(std::string_view key) {
  const json* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) throw ConfigError(path(key), "must be a string, not " + std::string(type_name(*v)));
  return v->get<std::string>();
}

std::string ConfigSection::string(std::string_view key, std::string fallback) {
  auto v = string(key);
  return v ? *v : std::move(fallback);
}

std::optional<std::int64_t> ConfigSection::integer(std::string_view key, std::int64_t min, std::int64_t max) {
  const json* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number_integer()) {
    throw ConfigError(path(key), "must be an integer, not " +
                                     std::string(v->is_number() ? "a fraction" : type_name(*v)));
  }
  // Unsigned values above INT64_MAX are out of range too.
  if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    throw ConfigError(path(key), "must be at most " + std::to_string(max));
  }
  const auto n = v->get<std::int64_t>();
  if (n < min || n > max) {
    throw ConfigError(path(key), "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                                     ", not " + std::to_string(n));
  }
  return n;
}

std::optional<bool> ConfigSection::boolean(std::string_view key) {
  const json* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) throw ConfigError(path(key), "must be true or false, not " + std::string(type_name(*v)));
  return v->get<bool>();
}

std::optional<std::chrono::milliseconds> ConfigSection::milliseconds(std::string_view key,
                                                                     std::chrono::milliseconds min,
                                                                     std::chrono::milliseconds max) {
  const json* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) throw ConfigError(path(key), "must be a number, not " + std::string(type_name(*v)));
  // Keys ending in _seconds take (fractional) seconds, the rest milliseconds.
  const bool seconds = key.size() > 8 && key.substr(key.size() - 8) == "_seconds";
  const double scale = seconds ? 1000.0 : 1.0;
  const double raw = v->get<double>();
  const double ms = raw * scale;
  if (!std::isfinite(ms) || ms < static_cast<double>(min.count()) || ms > static_cast<double>(max.count())) {
    auto show = [&](std::chrono::milliseconds m) {
      std::ostringstream o;
      o << static_cast<double>(m.count()) / scale;
      return o.str();
    };
    std::ostringstream got;
    got << raw;
    throw ConfigError(path(key), "must be between " + show(min) + " and " + show(max) + ", not " + got.str());
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(ms)));
}

void ConfigSection::finish() const {
  for (const auto& [key, value] : section_.items()) {
    if (seen_.find(key) == seen_.end()) throw ConfigError(path(key), "unknown key");
  }
}

}  // namespace baton
