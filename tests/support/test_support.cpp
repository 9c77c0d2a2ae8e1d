#include "test_support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

namespace baton::test {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

// ---- time -------------------------------------------------------------------

bool eventually(milliseconds bound, const std::function<bool()>& pred, milliseconds step) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(step);
  }
}

// ---- files ------------------------------------------------------------------

TempDir::TempDir(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw_errno("mkdtemp " + templ);
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_file(const fs::path& path, std::string_view content) {
  const fs::path tmp = path.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
}

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void append_line(const fs::path& path, std::string_view line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("open " + path.string());
  std::string buf(line);
  buf += '\n';
  const ssize_t n = ::write(fd, buf.data(), buf.size());
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (n != static_cast<ssize_t>(buf.size())) throw_errno("append to " + path.string());
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::vector<std::string> lines;
  auto text = read_file(path);
  if (!text) return lines;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

bool wait_for_file(const fs::path& path, milliseconds bound) {
  return eventually(bound, [&] { return fs::exists(path); });
}

// ---- names ------------------------------------------------------------------

std::string random_hex(std::size_t digits) {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                      static_cast<std::uint64_t>(::getpid()) ^
                      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < digits; ++i) out += hex[gen() % 16];
  return out;
}

// ---- child processes --------------------------------------------------------

Process::Process(std::vector<std::string> argv, std::vector<std::string> env,
                 std::optional<fs::path> output) {
  for (const auto& a : argv) description_ += (description_.empty() ? "" : " ") + a;
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  for (auto& add : env) {
    const auto key = add.substr(0, add.find('=') + 1);
    std::erase_if(envs, [&](const std::string& s) { return s.compare(0, key.size(), key) == 0; });
    envs.push_back(add);
  }
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  posix_spawnattr_t attr;
  ::posix_spawnattr_init(&attr);
  ::posix_spawnattr_setpgroup(&attr, 0);
  // Children start with default signal handling and nothing blocked, whatever
  // the test runner set.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &all);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (output) {
    ::posix_spawn_file_actions_addopen(&actions, 1, output->c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::posix_spawn_file_actions_adddup2(&actions, 1, 2);
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
  const int rc = ::posix_spawnp(&pid_, cargv[0], &actions, &attr, cargv.data(), cenv.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    pid_ = -1;
    throw std::system_error(rc, std::generic_category(), "cannot start " + description_);
  }
}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_), status_(other.status_), description_(std::move(other.description_)) {
  other.pid_ = -1;
}

Process::~Process() {
  if (pid_ <= 0) return;
  kill();
  ::kill(-pid_, SIGKILL);  // what the child left behind in its group
}

bool Process::reap(bool block) {
  if (pid_ < 0 || status_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    if (WIFEXITED(status)) {
      status_ = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      status_ = 128 + WTERMSIG(status);
    } else {
      status_ = 255;
    }
    return true;
  }
  if (r < 0) {  // not our child any more (should not happen): treat as gone
    status_ = 255;
    return true;
  }
  return false;
}

void Process::signal(int sig, bool group) {
  if (pid_ > 0 && !reap(false)) ::kill(group ? -pid_ : pid_, sig);
}

namespace {

// The state letter of a /proc/.../stat file ("R", "S", "T", ...), or 0 if
// unreadable.
char task_state(const fs::path& stat) {
  const auto text = read_file(stat);
  if (!text) return 0;
  // "pid (comm) S ...": comm may hold spaces and parentheses, so look after
  // the last ')'.
  const auto close = text->rfind(')');
  if (close == std::string::npos || close + 2 >= text->size()) return 0;
  return (*text)[close + 2];
}

// Whether every thread of `pid` is stopped (a group stop reaches each
// thread on its own way back to user mode).
bool all_threads_stopped(pid_t pid) {
  std::error_code ec;
  fs::directory_iterator it(fs::path("/proc") / std::to_string(pid) / "task", ec);
  if (ec) return false;
  bool any = false;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return false;
    const char state = task_state(it->path() / "stat");
    if (state == 0) continue;  // a thread that just ended
    if (state != 'T' && state != 't') return false;
    any = true;
  }
  return any && !ec;
}

}  // namespace

bool Process::stop(milliseconds bound) {
  if (pid_ <= 0 || reap(false)) return false;
  ::kill(pid_, SIGSTOP);
  return eventually(bound, [&] { return all_threads_stopped(pid_); }, 1ms);
}

void Process::resume() { signal(SIGCONT); }

void Process::kill() {
  if (pid_ < 0 || reap(false)) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  ::kill(pid_, SIGCONT);  // a stopped process dies on SIGKILL anyway; harmless
  reap(true);
}

std::optional<int> Process::wait_exit(milliseconds bound) {
  if (pid_ < 0) return std::nullopt;
  if (eventually(bound, [&] { return reap(false); }, 2ms)) return status_;
  return std::nullopt;
}

bool Process::running() { return pid_ > 0 && !reap(false); }

// ---- servers ----------------------------------------------------------------

std::optional<int> server_or_skip(const char* program, const char* var, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]).substr(0, 6) == "--list") return std::nullopt;
  }
  if (const char* v = std::getenv(var); v != nullptr && *v != '\0') return std::nullopt;
  const char* ci = std::getenv("CI");
  const bool in_ci = ci != nullptr && std::string_view(ci) == "true";
  std::fprintf(stderr, "%s: %s is not set (scripts/test.sh starts the server and sets it)%s\n", program, var,
               in_ci ? "; CI=true, so this is a failure" : "; skipping");
  return in_ci ? 1 : 77;
}

}  // namespace baton::test
