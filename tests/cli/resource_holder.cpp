// tests/cli/resource_holder.cpp: a process that holds a resource lock
// (docs/design.md §1.14), for the CLI cases about reserved names, since
// `baton run` takes no reserved name.
//
//   cli_resource_holder CONFIG KIND NAME FILE
//
// Takes manager.resource_lock(KIND, NAME) on CONFIG's backend (within 10 s,
// else exit 3), writes the grant's token to FILE (atomically), then sleeps
// until killed, 60 s at most.
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <baton/baton.hpp>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: cli_resource_holder CONFIG KIND NAME FILE\n");
    return 64;
  }
  try {
    baton::register_builtin_backends();
    auto manager = baton::LockManager::from_file(argv[1]);
    auto lock = manager.resource_lock(argv[2], argv[3]);
    if (!lock.acquire_for(std::chrono::seconds(10))) return 3;
    const std::filesystem::path file = argv[4];
    std::ofstream(file.string() + ".tmp") << lock.token() << '\n';
    std::filesystem::rename(file.string() + ".tmp", file);
    std::this_thread::sleep_for(std::chrono::seconds(60));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cli_resource_holder: %s\n", e.what());
    return 2;
  }
}
