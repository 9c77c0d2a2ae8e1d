// The conformance suite on the flock backend. Every process of one run (the
// test process and the helpers it re-executes) must use the same directory:
// it travels in $BATON_FLOCK_DIR, set here to a fresh temp directory when it
// is not set already (helpers inherit it).
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <baton/conformance.hpp>

#include "flock_backend.hpp"

namespace {

constexpr const char* dir_env = "BATON_FLOCK_DIR";

// A directory made for this run and removed when it ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "baton-flock-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

int main(int argc, char** argv) {
  std::unique_ptr<TempDir> owned;
  if (const char* set = std::getenv(dir_env); set == nullptr || *set == '\0') {
    owned = std::make_unique<TempDir>();
    ::setenv(dir_env, owned->path().c_str(), 1);
  }
  const std::filesystem::path dir = std::getenv(dir_env);

  baton::conformance::Suite suite;
  suite.name = "flock";
  suite.make_backend = [dir] { return baton_flock::make_backend({.dir = dir}); };
  // A dead waiter leaves the queue at the next look of any participant.
  suite.dead_waiter_bound = std::chrono::seconds(1);
  suite.make_unreachable_backend = [dir] {
    return baton_flock::make_backend({.dir = dir / "no-such-directory" / "locks"});
  };
  suite.unreachable_bound = std::chrono::seconds(1);
  return baton::conformance::main(argc, argv, suite);
}
