// baton/config.hpp: the JSON config (DESIGN section 3) and a checked reader
// for backend sections.
//
//   {
//     "backend": "sqlite",                        // which section is read
//     "sqlite":   { "path": "baton.db" },
//     "postgres": { "dsn": "postgresql://baton@127.0.0.1:5432/baton" },
//     "redis":    { "url": "redis://127.0.0.1:6379/0", "key_prefix": "baton:" },
//     "defaults": { "ttl_seconds": 30 }
//   }
//
// "${VAR}" inside any string is replaced by the environment variable VAR (an
// unset VAR is an error naming the key; "$${" is a literal "${"). Unknown
// keys, wrong types and unknown backends are ConfigErrors naming the key.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace baton {

// A parsed, validated config. Aggregate; copyable.
struct Config {
  std::string backend = "sqlite";
  // The chosen backend's section with ${VAR} already expanded; an empty
  // object when the document has none.
  nlohmann::json section = nlohmann::json::object();
  // defaults.ttl_seconds (1 ms .. 1 year); zero means "not set" (30 s).
  std::chrono::milliseconds default_ttl{0};
  // Where it came from, for messages ("baton.json", "<json>", "<default>").
  std::string source = "<default>";
};

// Parses a config document. Throws ConfigError. Thread-safe.
Config parse_config(const nlohmann::json& document, std::string source = "<json>");
// Parses JSON text (syntax errors are ConfigErrors with the position).
Config parse_config_text(std::string_view text, std::string source = "<json>");
// Reads and parses a file (unreadable file: ConfigError).
Config load_config_file(const std::filesystem::path& path);

// The CLI's lookup order: `explicit_path` if given, else $BATON_CONFIG, else
// ./baton.json if it exists, else the built-in default (SQLite at
// ./baton.db). Throws ConfigError.
Config find_config(const std::optional<std::filesystem::path>& explicit_path);

// A reader over one backend section that checks types and, in finish(),
// rejects keys nobody asked for. Every error names the full dotted key
// ("redis.key_prefix"). Not thread-safe; copyable.
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
