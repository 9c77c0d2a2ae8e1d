// cli/conformance_command.cpp: `baton [--config PATH] conformance ...` hands
// itself to baton-conformance (conformance_main.cpp), which carries the
// suite and Catch2. The command itself stays free of them, so its start-up
// does not pay for a feature most runs never use.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli.hpp"
#include "exit_codes.hpp"

namespace baton::cli {

namespace {

constexpr const char* tool_name = "baton-conformance";

// Where baton-conformance is: next to this executable (the build tree), or
// in the install's libexec directory relative to it. Empty when neither.
std::filesystem::path find_tool(std::string& tried) {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const std::vector<std::filesystem::path> places{exe.parent_path() / tool_name,
                                                  exe.parent_path() / BATON_CLI_LIBEXEC_DIR / tool_name};
  for (const auto& path : places) {
    if (::access(path.c_str(), X_OK) == 0) return path;
    tried += (tried.empty() ? "" : ", ") + path.lexically_normal().string();
  }
  return {};
}

// The arguments of baton-conformance when argv is a conformance command:
// the config option, then everything after the subcommand. Empty otherwise.
std::vector<std::string> conformance_arguments(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::size_t sub = 1;
  std::vector<std::string> config;
  if (args.size() > 2 && args[1] == "--config") {
    config = {args[1], args[2]};
    sub = 3;
  } else if (args.size() > 1 && std::string_view(args[1]).starts_with("--config=")) {
    config = {args[1]};
    sub = 2;
  }
  if (args.size() <= sub || args[sub] != "conformance") return {};
  std::vector<std::string> out{""};  // argv[0], filled in by the caller
  out.insert(out.end(), config.begin(), config.end());
  out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(sub) + 1, args.end());
  return out;
}

}  // namespace

std::optional<int> hand_to_conformance(int argc, char** argv) {
  auto args = conformance_arguments(argc, argv);
  if (args.empty()) return std::nullopt;
  std::string tried;
  const auto tool = find_tool(tried);
  if (tool.empty()) {
    error_line("conformance: the conformance kit (" + std::string(tool_name) +
               ") is not installed with this baton (looked for " + tried +
               "; Debian: the libbaton-conformance-dev package)");
    return exit_software;
  }
  args[0] = tool.string();
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  ::execv(tool.c_str(), cargv.data());
  error_line("conformance: cannot run " + tool.string() + ": " + std::strerror(errno));
  return exit_software;
}

}  // namespace baton::cli
