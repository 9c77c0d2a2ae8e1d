// cli/output.cpp: JSON and messages of the `baton` command.
#include <cstdio>
#include <string>

#include <baton/options.hpp>
#include <nlohmann/json.hpp>

#include "cli.hpp"

namespace baton::cli {

namespace {
// Compact, ASCII-safe (non-ASCII kept as UTF-8), and never throws on bytes
// that are not UTF-8: lock names and host names are arbitrary bytes.
std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace

void error_line(std::string_view message) {
  std::string line = "baton: ";
  line.append(message);
  // One line, whatever the message holds.
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

std::string json_quoted(std::string_view text) { return dump(nlohmann::ordered_json(std::string(text))); }

std::string info_json(const LockInfo& info) {
  nlohmann::ordered_json j;
  j["name"] = info.name;
  j["held"] = info.held;
  if (info.held) {
    j["token"] = info.token;
    j["owner"] = info.owner;
    j["host"] = info.host;
    j["pid"] = info.pid;
    if (info.expires_in == baton::forever) {
      j["expires_in_ms"] = nullptr;
    } else {
      j["expires_in_ms"] = info.expires_in.count() < 0 ? 0 : info.expires_in.count();
    }
  }
  j["waiters"] = info.waiters;
  return dump(j);
}

}  // namespace baton::cli
