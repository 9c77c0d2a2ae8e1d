// baton::load_plugin(), find_plugin() and the config's "plugins" key, on
// the plugins of tests/plugins (BATON_TEST_PLUGIN_DIR).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "baton/config.hpp"
#include "baton/error.hpp"
#include "baton/plugin_loader.hpp"
#include "baton/registry.hpp"
#include "baton/version.hpp"

namespace fs = std::filesystem;
using baton::ConfigError;

namespace {

const fs::path plugin_dir = BATON_TEST_PLUGIN_DIR;

fs::path plugin(const std::string& name) { return plugin_dir / (name + ".so"); }

// The message load_plugin() throws for `path`; fails the test if it loads.
std::string load_error(const fs::path& path) {
  baton::Registry registry;
  try {
    baton::load_plugin(registry, path);
  } catch (const ConfigError& e) {
    CHECK(e.key().empty());
    CHECK(std::string(e.what()).find(path.filename().string()) != std::string::npos);
    CHECK(registry.names().empty());
    return e.what();
  }
  FAIL("loaded " << path);
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a plugin registers its backends with its path as their origin") {
  baton::Registry registry;
  const auto loaded = baton::load_plugin(registry, plugin("baton_test_sqlite_plugin"));
  CHECK(loaded.backends == std::vector<std::string>{"sqlite-plugin"});
  CHECK(loaded.version == BATON_VERSION);
  CHECK(loaded.path == plugin("baton_test_sqlite_plugin"));
  auto r = registry.find("sqlite-plugin");
  REQUIRE(r);
  CHECK(r->origin == plugin("baton_test_sqlite_plugin").string());
  REQUIRE(r->keys.size() == 1);
  CHECK(r->keys[0].name == "path");
  // Loading it again registers again, harmlessly.
  CHECK(baton::load_plugin(registry, plugin("baton_test_sqlite_plugin")).backends.size() == 1);
}

TEST_CASE("plugins that cannot be used are one ConfigError naming the file") {
  CHECK(contains(load_error(plugin_dir / "no-such-plugin.so"), "no such file"));
  CHECK(contains(load_error(plugin_dir), "not a regular file"));
  const fs::path text = fs::temp_directory_path() / "baton-unit-not-a-plugin.so";
  std::ofstream(text) << "not a shared library\n";
  CHECK(contains(load_error(text), "cannot load"));
  fs::remove(text);
  CHECK(contains(load_error(plugin("baton_test_not_a_plugin")), "no baton_plugin_abi symbol"));
  CHECK(contains(load_error(plugin("baton_test_failing_register")), "the test plugin refuses to register"));
  CHECK(contains(load_error(plugin("baton_test_empty_register")), "registered no backend"));
}

TEST_CASE("a plugin built against another baton or standard library is refused, naming both") {
  const std::string version = load_error(plugin("baton_test_wrong_version"));
  CHECK(contains(version, "baton 99.0.0"));
  CHECK(contains(version, "this is baton " BATON_VERSION));
  CHECK(contains(version, "major.minor must match"));
  const std::string stdlib = load_error(plugin("baton_test_wrong_stdlib"));
  CHECK(contains(stdlib, "some-other-stdlib abi 7"));
  CHECK(contains(stdlib, "standard library"));
}

TEST_CASE("find_plugin: paths relative to the base, bare names on BATON_PLUGIN_PATH") {
  CHECK(baton::find_plugin("sub/x.so", "/etc/baton") == fs::path("/etc/baton/sub/x.so"));
  CHECK(baton::find_plugin("/abs/x.so", "/etc/baton") == fs::path("/abs/x.so"));
  ::setenv("BATON_PLUGIN_PATH", ("/nonexistent::" + plugin_dir.string()).c_str(), 1);
  CHECK(baton::plugin_search_path().front() == fs::path("/nonexistent"));
  CHECK(baton::find_plugin("baton_test_sqlite_plugin.so") == plugin("baton_test_sqlite_plugin"));
  try {
    baton::find_plugin("baton_no_such_plugin.so");
    FAIL("found a plugin that does not exist");
  } catch (const ConfigError& e) {
    CHECK(contains(e.what(), "baton_no_such_plugin.so: not found"));
    CHECK(contains(e.what(), "/nonexistent"));
  }
  ::unsetenv("BATON_PLUGIN_PATH");
}

TEST_CASE("a config's plugins are loaded before its backend is checked") {
  baton::Registry registry;
  const std::string doc = R"({"plugins":[")" + plugin("baton_test_sqlite_plugin").string() +
                          R"("],"backend":"sqlite-plugin","sqlite-plugin":{"path":"x.db"}})";
  auto config = baton::parse_config_text(doc, "x.json", registry);
  CHECK(config.backend == "sqlite-plugin");
  CHECK(config.plugins == std::vector<fs::path>{plugin("baton_test_sqlite_plugin")});
  try {
    baton::parse_config_text(R"({"plugins":["./nothing-here.so"]})", "x.json", registry);
    FAIL("a missing plugin parsed");
  } catch (const ConfigError& e) {
    CHECK(e.key() == "plugins[0]");
    CHECK(e.source() == "x.json");
    CHECK(contains(e.what(), "nothing-here.so: no such file"));
  }
  CHECK_THROWS_AS(baton::parse_config_text(R"({"plugins":"x.so"})", "x.json", registry), ConfigError);
  CHECK_THROWS_AS(baton::parse_config_text(R"({"plugins":[7]})", "x.json", registry), ConfigError);
  CHECK_THROWS_AS(baton::parse_config_text(R"({"plugins":[""]})", "x.json", registry), ConfigError);
}

TEST_CASE("a config file's relative plugin paths are relative to its directory") {
  const fs::path dir = fs::temp_directory_path() / "baton-unit-plugin-config";
  fs::create_directories(dir / "lib");
  fs::copy_file(plugin("baton_test_sqlite_plugin"), dir / "lib" / "p.so", fs::copy_options::overwrite_existing);
  std::ofstream(dir / "baton.json") << R"({"plugins":["lib/p.so"],"backend":"sqlite-plugin"})";
  baton::Registry registry;
  auto config = baton::load_config_file(dir / "baton.json", registry);
  CHECK(config.backend == "sqlite-plugin");
  CHECK(registry.find("sqlite-plugin")->origin == (dir / "lib" / "p.so").string());
  fs::remove_all(dir);
}
