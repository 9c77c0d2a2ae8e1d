#include "support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace baton::conformance::detail {

namespace {

Suite& suite_storage() {
  static Suite s;
  return s;
}

std::string random_hex(std::size_t digits) {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                      static_cast<std::uint64_t>(::getpid()) ^
                      static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()));
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < digits; ++i) out += hex[gen() % 16];
  return out;
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

// ---- suite -------------------------------------------------------------------

void set_suite(const Suite& s) { suite_storage() = s; }
const Suite& suite() { return suite_storage(); }

std::shared_ptr<Backend> make_backend() {
  if (!suite().make_backend) throw std::logic_error("conformance: Suite::make_backend is not set");
  auto backend = suite().make_backend();
  if (!backend) throw std::logic_error("conformance: Suite::make_backend returned null");
  return backend;
}

LockManager make_manager(ManagerOptions options) { return LockManager(make_backend(), options); }

milliseconds dead_waiter_bound() {
  return suite().dead_waiter_bound > 0ms ? suite().dead_waiter_bound : milliseconds{5000};
}

// ---- names ---------------------------------------------------------------------

const std::string& run_prefix() {
  static const std::string prefix = "conf-" + random_hex(12) + "-";
  return prefix;
}

std::string unique_name(std::string_view tag) {
  static std::atomic<unsigned> counter{0};
  return run_prefix() + std::string(tag) + "-" + std::to_string(++counter);
}

// ---- time ----------------------------------------------------------------------

bool eventually(milliseconds bound, const std::function<bool()>& pred, milliseconds step) {
  const auto deadline = Clock::now() + bound;
  while (true) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(step);
  }
}

// ---- files ---------------------------------------------------------------------

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/baton-conformance-XXXXXX";
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

std::string field(std::string_view line, std::string_view key) {
  const std::string needle = std::string(key) + "=";
  std::size_t pos = 0;
  while ((pos = line.find(needle, pos)) != std::string_view::npos) {
    if (pos == 0 || line[pos - 1] == ' ') {
      const auto start = pos + needle.size();
      const auto end = line.find_first_of(" \n", start);
      return std::string(line.substr(start, end == std::string_view::npos ? line.npos : end - start));
    }
    pos += needle.size();
  }
  return {};
}

// ---- helper processes ------------------------------------------------------------

Helper::Helper(std::string task, std::vector<std::string> args) {
  std::vector<std::string> argv_s;
  argv_s.push_back("/proc/self/exe");
  argv_s.emplace_back(helper_marker);
  argv_s.push_back(std::to_string(::getpid()));
  argv_s.push_back(task);
  description_ = task;
  for (auto& a : args) {
    description_ += " " + a;
    argv_s.push_back(std::move(a));
  }
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  // The helper gets stdin/stdout/stderr only: no inherited database file or
  // server connection of this process may keep a lock or a session alive.
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
  const int rc = ::posix_spawn(&pid_, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    throw std::system_error(rc, std::generic_category(), "posix_spawn helper " + description_);
  }
}

Helper::Helper(Helper&& other) noexcept
    : pid_(other.pid_), status_(other.status_), description_(std::move(other.description_)) {
  other.pid_ = -1;
}

Helper::~Helper() { kill(); }

bool Helper::reap(bool block) {
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

void Helper::signal(int sig) {
  if (pid_ > 0 && !reap(false)) ::kill(pid_, sig);
}

void Helper::kill() {
  if (pid_ < 0 || reap(false)) return;
  ::kill(pid_, SIGKILL);
  ::kill(pid_, SIGCONT);  // a stopped process dies on SIGKILL anyway; harmless
  reap(true);
}

std::optional<int> Helper::wait_exit(milliseconds bound) {
  if (pid_ < 0) return std::nullopt;
  if (eventually(bound, [&] { return reap(false); }, 2ms)) return status_;
  return std::nullopt;
}

bool Helper::running() { return pid_ > 0 && !reap(false); }

// ---- threads ---------------------------------------------------------------------

ThreadWaiter::ThreadWaiter(Lock& lock, milliseconds timeout, std::function<void(Lock&)> then)
    : state_(std::make_shared<State>()) {
  thread_ = std::jthread([state = state_, &lock, timeout, then = std::move(then)](std::stop_token st) {
    bool ok = false;
    try {
      ok = lock.acquire_for(timeout, st);
      state->returned_at = Clock::now();
      if (ok) state->token = lock.token();
      state->result.store(ok ? 1 : 0);
    } catch (const std::exception& e) {
      state->returned_at = Clock::now();
      state->error = std::string("acquire_for threw: ") + e.what();
      state->result.store(-1);
    }
    if (ok && then) {
      try {
        then(lock);
      } catch (const std::exception& e) {
        state->then_error = e.what();
      }
    }
    state->finished.store(true);
  });
}

ThreadWaiter::~ThreadWaiter() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

std::optional<bool> ThreadWaiter::result(milliseconds bound) {
  if (!eventually(bound, [&] { return state_->result.load() != -2; }, 1ms)) return std::nullopt;
  const int r = state_->result.load();
  if (r < 0) return std::nullopt;
  return r == 1;
}

bool ThreadWaiter::finish(milliseconds bound) {
  return eventually(bound, [&] { return state_->finished.load(); }, 1ms);
}

std::size_t wait_for_waiters(LockManager& manager, std::string_view name, std::size_t n,
                             milliseconds bound) {
  std::size_t seen = 0;
  eventually(
      bound,
      [&] {
        seen = manager.inspect(name).waiters;
        return seen == n;
      },
      5ms);
  return seen;
}

}  // namespace baton::conformance::detail
