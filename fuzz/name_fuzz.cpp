// fuzz/name_fuzz.cpp: lock names on arbitrary bytes.
//
// baton::validate_name, then a round trip through the SQLite backend on a
// temporary database: lock (try_acquire), inspect, list, release, clear. A
// name must either work verbatim (inspect/list show exactly the same bytes,
// held, then free after release) or be refused with InvalidName by every call;
// any other exception, a mismatch, a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>

#include "baton/baton.hpp"
#include "baton/sqlite.hpp"

namespace {

[[noreturn]] void bug(const std::string& what) {
  std::fprintf(stderr, "name_fuzz: %s\n", what.c_str());
  std::abort();
}

baton::LockManager& manager() {
  static const std::filesystem::path dir = [] {
    // tmpfs when there is one: every lock/release is a committed transaction.
    std::string tmpl = std::filesystem::is_directory("/dev/shm") ? "/dev/shm/baton-name-fuzz-XXXXXX"
                                                                 : "/tmp/baton-name-fuzz-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    return std::filesystem::path(tmpl);
  }();
  static baton::LockManager m = [] {
    baton::sqlite::Options o;
    o.path = dir / "fuzz.db";
    return baton::LockManager(baton::sqlite::make_backend(o));
  }();
  static const bool cleanup = [] {
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    });
    return true;
  }();
  (void)cleanup;
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string name(reinterpret_cast<const char*>(data), size);
  bool valid = true;
  try {
    baton::validate_name(name);
  } catch (const baton::InvalidName&) {
    valid = false;
  } catch (const std::exception& e) {
    bug(std::string("validate_name threw a non-InvalidName: ") + e.what());
  }
  const bool expect_valid = !name.empty() && name.size() <= baton::max_name_bytes && name.rfind("__baton", 0) != 0;
  if (valid != expect_valid) bug("validate_name disagrees with the contract (docs/design.md §1.11)");

  auto& m = manager();
  try {
    baton::Lock lock = m.lock(name);
    if (!valid) bug("lock() accepted an invalid name");
    if (!lock.try_acquire()) bug("try_acquire of a fresh name failed");
    auto info = m.inspect(name);
    if (info.name != name) bug("inspect does not show the name verbatim");
    if (!info.held || info.token != lock.token()) bug("inspect does not show the grant");
    bool listed = false;
    for (const auto& i : m.list()) listed = listed || (i.name == name && i.held);
    if (!listed) bug("list does not show the name verbatim");
    lock.release();
    if (m.inspect(name).held) bug("still held after release");
    m.clear(name);
  } catch (const baton::InvalidName&) {
    if (valid) bug("a valid name was refused");
  } catch (const std::exception& e) {
    bug(std::string("unexpected exception: ") + e.what());
  }
  return 0;
}
