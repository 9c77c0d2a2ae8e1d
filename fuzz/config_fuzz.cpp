// fuzz/config_fuzz.cpp: the config loader on arbitrary bytes.
//
// baton::parse_config_text, then the chosen backend's options_from_config on
// the parsed section (and on the sections of the two other backends too, as
// if the document had chosen them). The only exception allowed out is
// baton::ConfigError, whose key and message must be printable; anything else
// (std::out_of_range from a stoi, nlohmann exceptions, crashes, sanitizer
// reports) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "baton/builtin.hpp"
#include "baton/config.hpp"
#include "baton/error.hpp"
#include "baton/features.hpp"
#include "baton/postgres.hpp"
#include "baton/redis.hpp"
#include "baton/sqlite.hpp"

namespace {

[[noreturn]] void bug(const char* where, const char* what) {
  std::fprintf(stderr, "config_fuzz: %s threw a non-ConfigError: %s\n", where, what);
  std::abort();
}

template <typename F>
void only_config_errors(const char* where, F&& f) {
  try {
    f();
  } catch (const baton::ConfigError& e) {
    if (std::string_view(e.what()).empty()) bug(where, "ConfigError with an empty message");
  } catch (const std::exception& e) {
    bug(where, e.what());
  } catch (...) {
    bug(where, "an unknown exception");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  baton::register_builtin_backends();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  baton::Config config;
  bool parsed = false;
  only_config_errors("parse_config_text", [&] {
    config = baton::parse_config_text(text, "<fuzz>");
    parsed = true;
  });
  if (!parsed) return 0;
  // The chosen section, read by each backend's parser (only the one named by
  // "backend" is read in real use; the others must cope with any object too).
  only_config_errors("sqlite::options_from_config", [&] { (void)baton::sqlite::options_from_config(config.section); });
  only_config_errors("postgres::options_from_config", [&] { (void)baton::postgres::options_from_config(config.section); });
  only_config_errors("redis::options_from_config", [&] { (void)baton::redis::options_from_config(config.section); });
  return 0;
}
