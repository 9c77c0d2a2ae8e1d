// baton/config.hpp: the JSON config (docs/design.md §6) and a checked reader
// for backend sections.
//
//   {
//     "plugins": ["libbaton_x.so"],      // backend plugins, loaded first
//     "backend": "<name>",               // which section is read
//     "<name>":  { ...backend keys... }, // one section per registered backend
//     "defaults": { "ttl_seconds": 30 }
//   }
//
// "backend" may be left out: the registry's default backend is then used.
// Top-level keys are "plugins", "backend", "defaults" and the name of any
// backend in the registry; only the chosen backend's section is read.
// "plugins" is loaded into the registry (baton::load_plugin) before anything
// else is checked, so a plugin's backend can be named: a path with a '/' is
// relative to the config file's directory (the current directory for a
// document not read from a file), a bare name is looked up in
// baton::plugin_search_path(). "${VAR}" inside any
// string is replaced by the environment variable VAR (an unset VAR is an
// error naming the key; "$${" is a literal "${"). Unknown keys, wrong types
// and unknown backends are ConfigErrors naming the key.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "baton/registry.hpp"

namespace baton {

// A parsed, validated config. Aggregate; copyable.
struct Config {
  // The chosen backend's registry name. Empty: the registry's default.
  std::string backend;
  // The chosen backend's section with ${VAR} already expanded; an empty
  // object when the document has none.
  nlohmann::json section = nlohmann::json::object();
  // defaults.ttl_seconds (1 ms .. 1 week); zero means "not set" (the
  // manager's built-in 30 s).
  std::chrono::milliseconds default_ttl{0};
  // Where it came from, for messages ("baton.json", "<json>", "<default>").
  std::string source = "<default>";
  // The plugin files "plugins" named, as loaded, in order.
  std::vector<std::filesystem::path> plugins;
};

// Parses a config document; `registry` says which backend sections exist
// and which backend is the default, and receives the document's plugins.
// Throws ConfigError (a plugin that fails to load: key "plugins[i]").
// Thread-safe.
Config parse_config(const nlohmann::json& document, std::string source = "<json>",
                    Registry& registry = Registry::global());
// Parses JSON text (syntax errors are ConfigErrors with the position).
Config parse_config_text(std::string_view text, std::string source = "<json>",
                         Registry& registry = Registry::global());
// Reads and parses a file (unreadable file: ConfigError). Relative plugin
// paths are relative to the file's directory.
Config load_config_file(const std::filesystem::path& path, Registry& registry = Registry::global());

// The CLI's lookup order: `explicit_path` if given, else $BATON_CONFIG, else
// ./baton.json if it exists, else an empty document (the registry's default
// backend with its default options). Throws ConfigError.
Config find_config(const std::optional<std::filesystem::path>& explicit_path,
                   Registry& registry = Registry::global());

// A reader over one backend section that checks types and, in finish(),
// rejects keys nobody asked for. Every error names the full dotted key
// ("<backend>.<key>"). Not thread-safe; copyable.
class ConfigSection {
 public:
  ConfigSection(const nlohmann::json& section, std::string prefix);

  std::optional<std::string> string(std::string_view key);
  std::string string(std::string_view key, std::string fallback);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max);
  std::optional<bool> boolean(std::string_view key);
  // A duration in [min, max]. A key ending in "_seconds" is written in
  // (possibly fractional) seconds, any other key in milliseconds.
  std::optional<std::chrono::milliseconds> milliseconds(std::string_view key,
                                                        std::chrono::milliseconds min,
                                                        std::chrono::milliseconds max);
  // Throws ConfigError naming the first key that was present but never read.
  void finish() const;

  // "prefix.key": for messages about a value that parsed but is invalid.
  std::string path(std::string_view key) const;

 private:
  const nlohmann::json* find(std::string_view key);

  const nlohmann::json& section_;
  std::string prefix_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace baton
