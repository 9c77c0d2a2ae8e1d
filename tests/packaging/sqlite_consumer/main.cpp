// Takes and frees one lock in the SQLite store at argv[1]: a program that
// uses baton::core and baton::sqlite and nothing else.
#include <baton/lock_manager.hpp>
#include <baton/sqlite.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DATABASE\n", argv[0]);
    return 2;
  }
  baton::LockManager manager(baton::sqlite::make_backend({.path = argv[1]}));
  auto lock = manager.lock("packaging");
  if (!lock.try_acquire()) {
    std::fprintf(stderr, "try_acquire of a free lock failed\n");
    return 1;
  }
  std::printf("held\n");
  return 0;
}
