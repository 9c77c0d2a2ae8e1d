#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "baton/config.hpp"
#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "baton/name.hpp"
#include "baton/registry.hpp"

using baton::ConfigError;
using nlohmann::json;

namespace {

// The core names no backend. These tests parse configs against the global
// registry with stand-ins under the built-in names and "sqlite" as the
// default, as baton::register_builtin_backends() leaves it.
const bool stand_ins_registered = [] {
  auto& registry = baton::Registry::global();
  for (const char* name : {"sqlite", "postgres", "redis"}) {
    registry.add(name, [](const json&) -> std::shared_ptr<baton::Backend> { return nullptr; });
  }
  registry.set_default("sqlite");
  return true;
}();

// The key a ConfigError names for `text`, or "<none>" if it parses.
std::string error_key(const std::string& text) {
  try {
    baton::parse_config_text(text, "test.json");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("test.json") == 0);
    return e.key();
  }
  return "<none>";
}

}  // namespace

TEST_CASE("a config picks the backend and keeps only its section") {
  auto c = baton::parse_config_text(R"({"backend":"redis","redis":{"url":"redis://x"},
                                        "sqlite":{"whatever":1},"defaults":{"ttl_seconds":2.5}})");
  CHECK(c.backend == "redis");
  CHECK(c.section == json{{"url", "redis://x"}});
  CHECK(c.default_ttl == std::chrono::milliseconds(2500));
}

TEST_CASE("an empty config is SQLite with defaults") {
  auto c = baton::parse_config_text("{}");
  CHECK(c.backend == "sqlite");
  CHECK(c.section == json::object());
  CHECK(c.default_ttl == std::chrono::milliseconds(0));
}

TEST_CASE("config errors name the offending key") {
  CHECK(error_key(R"({"backend":"sqlite","sqlitee":{}})") == "sqlitee");
  CHECK(error_key(R"({"backend":7})") == "backend");
  CHECK(error_key(R"({"backend":""})") == "backend");
  CHECK(error_key(R"({"sqlite":[]})") == "sqlite");
  CHECK(error_key(R"({"defaults":{"ttl_seconds":"30"}})") == "defaults.ttl_seconds");
  CHECK(error_key(R"({"defaults":{"ttl_seconds":-1}})") == "defaults.ttl_seconds");
  CHECK(error_key(R"({"defaults":{"ttl_seconds":0}})") == "defaults.ttl_seconds");
  CHECK(error_key(R"({"defaults":{"ttl_seconds":315360000}})") == "defaults.ttl_seconds");
  CHECK(error_key(R"({"defaults":{"ttl":30}})") == "defaults.ttl");
  CHECK(error_key(R"({"defaults":3})") == "defaults");
  CHECK(error_key(R"([1,2])") == "");
  CHECK(error_key(R"({"backend":"sqlite",)") == "");
  CHECK(error_key(R"({"backend":"sqlite","sqlite":{"path":"${BATON_TEST_SURELY_UNSET_VAR}"}})") ==
        "sqlite.path");
}

TEST_CASE("a custom backend's section is accepted under its own name") {
  auto c = baton::parse_config_text(R"({"backend":"mystore","mystore":{"k":"v"}})");
  CHECK(c.backend == "mystore");
  CHECK(c.section == json{{"k", "v"}});
  CHECK(error_key(R"({"backend":"sqlite","mystore":{}})") == "mystore");
}

TEST_CASE("${VAR} is expanded in the chosen section only") {
  ::setenv("BATON_TEST_SECRET", "s3cr3t", 1);
  auto c = baton::parse_config_text(
      R"({"backend":"postgres","postgres":{"dsn":"postgresql://u:${BATON_TEST_SECRET}@h/db","n":{"x":["${BATON_TEST_SECRET}"]}},
          "redis":{"url":"${BATON_TEST_SURELY_UNSET_VAR}"}})");
  CHECK(c.section["dsn"] == "postgresql://u:s3cr3t@h/db");
  CHECK(c.section["n"]["x"][0] == "s3cr3t");
  auto literal = baton::parse_config_text(R"({"sqlite":{"path":"$${HOME}"}})");
  CHECK(literal.section["path"] == "${HOME}");
  CHECK(error_key(R"({"sqlite":{"path":"${UNTERMINATED"}})") == "sqlite.path");
}

TEST_CASE("ConfigSection checks types, ranges and unknown keys") {
  json j = {{"s", "x"}, {"i", 5}, {"b", true}, {"ms", 250}, {"extra", 1}};
  baton::ConfigSection section(j, "demo");
  CHECK(section.string("s") == std::optional<std::string>("x"));
  CHECK(section.string("missing", "fallback") == "fallback");
  CHECK(section.integer("i", 0, 10) == 5);
  CHECK(section.boolean("b") == true);
  CHECK(section.milliseconds("ms", std::chrono::milliseconds(1), std::chrono::milliseconds(1000)) ==
        std::chrono::milliseconds(250));
  try {
    section.finish();
    FAIL("unknown key accepted");
  } catch (const ConfigError& e) {
    CHECK(e.key() == "demo.extra");
  }
  baton::ConfigSection bad(j, "demo");
  CHECK_THROWS_AS(bad.integer("s", 0, 1), ConfigError);
  CHECK_THROWS_AS(bad.integer("i", 0, 4), ConfigError);
  CHECK_THROWS_AS(bad.string("i"), ConfigError);
  CHECK_THROWS_AS(bad.boolean("s"), ConfigError);
}

TEST_CASE("find_config: explicit path, then $BATON_CONFIG, then ./baton.json, then the default") {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("baton-unit-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto old = fs::current_path();
  fs::current_path(dir);
  ::unsetenv("BATON_CONFIG");
  auto c = baton::find_config(std::nullopt);
  CHECK(c.backend == "sqlite");
  CHECK(c.section == json::object());  // the backend's own defaults
  CHECK(c.source == "<default>");
  std::ofstream("baton.json") << R"({"sqlite":{"path":"local.db"}})";
  CHECK(baton::find_config(std::nullopt).section["path"] == "local.db");
  std::ofstream("env.json") << R"({"sqlite":{"path":"env.db"}})";
  ::setenv("BATON_CONFIG", "env.json", 1);
  CHECK(baton::find_config(std::nullopt).section["path"] == "env.db");
  std::ofstream("flag.json") << R"({"sqlite":{"path":"flag.db"}})";
  CHECK(baton::find_config(fs::path("flag.json")).section["path"] == "flag.db");
  CHECK_THROWS_AS(baton::find_config(fs::path("missing.json")), ConfigError);
  ::unsetenv("BATON_CONFIG");
  fs::current_path(old);
  fs::remove_all(dir);
}

TEST_CASE("without a default backend, a config must name one") {
  baton::Registry registry;
  try {
    baton::parse_config_text("{}", "x.json", registry);
    FAIL("a config without a backend was accepted");
  } catch (const ConfigError& e) {
    CHECK(e.key() == "backend");
  }
  registry.add("mystore", [](const json&) -> std::shared_ptr<baton::Backend> { return nullptr; });
  CHECK(baton::parse_config_text(R"({"backend":"mystore"})", "x.json", registry).backend == "mystore");
  registry.set_default("mystore");
  CHECK(baton::parse_config_text("{}", "x.json", registry).backend == "mystore");
  // A registered backend's section is accepted even when another is chosen.
  CHECK_NOTHROW(baton::parse_config_text(R"({"backend":"other","mystore":{}})", "x.json", registry));
  CHECK_THROWS_AS(baton::parse_config_text(R"({"backend":"other","sqlite":{}})", "x.json", registry), ConfigError);
}

TEST_CASE("an unknown backend is a ConfigError on key \"backend\" listing what exists") {
  baton::Registry registry;
  registry.add("fake", [](const json&) -> std::shared_ptr<baton::Backend> { return nullptr; });
  try {
    registry.make("nope", json::object());
    FAIL("unknown backend accepted");
  } catch (const ConfigError& e) {
    CHECK(e.key() == "backend");
    CHECK(std::string(e.what()).find("fake") != std::string::npos);
  }
  try {
    baton::LockManager::from_config(baton::parse_config_text(R"({"backend":"nope"})", "x.json"), registry);
    FAIL("unknown backend accepted");
  } catch (const ConfigError& e) {
    CHECK(e.source() == "x.json");
  }
}

TEST_CASE("lock names: any bytes up to 1024, nothing else") {
  CHECK_NOTHROW(baton::validate_name("a"));
  CHECK_NOTHROW(baton::validate_name(std::string(1024, 'x')));
  CHECK_NOTHROW(baton::validate_name(std::string("nul\0byte", 8)));
  CHECK_NOTHROW(baton::validate_name("'; DROP TABLE x; -- ]] % * \xc3\xa9"));
  CHECK_NOTHROW(baton::validate_name("_baton"));
  CHECK_THROWS_AS(baton::validate_name(""), baton::InvalidName);
  CHECK_THROWS_AS(baton::validate_name(std::string(1025, 'x')), baton::InvalidName);
  CHECK_THROWS_AS(baton::validate_name("__baton.internal"), baton::InvalidName);
  CHECK_NOTHROW(baton::validate_name("__baton.internal", /*allow_reserved=*/true));
}
