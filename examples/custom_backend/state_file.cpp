#include "state_file.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include <baton/kit/errors.hpp>

namespace baton_flock {

namespace {

using baton::kit::Failure;
__extension__ typedef unsigned __int128 u128;  // GCC and Clang

[[noreturn]] void fail_io(Failure kind, const std::filesystem::path& path, std::string_view what, int err) {
  baton::kit::raise(kind, "flock " + path.string() + ": " + std::string(what), std::strerror(err));
}

// One non-blocking attempt at the whole-file write lock.
bool try_lock(int fd, const std::filesystem::path& path) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return true;
  if (errno == EAGAIN || errno == EACCES || errno == EINTR) return false;
  fail_io(Failure::unavailable, path, "fcntl(F_OFD_SETLK)", errno);
}

}  // namespace

std::filesystem::path file_for(const std::filesystem::path& dir, std::string_view name) {
  // FNV-1a, 128-bit: offset basis and prime from the FNV specification.
  u128 h = (static_cast<u128>(0x6c62272e07bb0142ULL) << 64) | 0x62b821756295c58dULL;
  const u128 prime = (static_cast<u128>(1) << 88) | 0x13b;
  for (unsigned char c : name) {
    h ^= c;
    h *= prime;
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string file(32, '0');
  for (int i = 31; i >= 0; --i, h >>= 4) file[i] = digits[static_cast<unsigned>(h & 15)];
  return dir / (file + ".lock");
}

std::optional<LockedFile> LockedFile::open(const std::filesystem::path& path, bool create,
                                           baton::Clock::time_point until, std::stop_token stop) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
  if (fd < 0) {
    if (!create && errno == ENOENT) return std::nullopt;
    fail_io(Failure::unavailable, path, "open", errno);
  }
  LockedFile file(fd, path);
  // Backoff from 50 us to 1 ms: critical sections last tens of microseconds.
  auto pause = std::chrono::microseconds(50);
  for (;;) {
    if (try_lock(fd, path)) return file;
    if (stop.stop_requested() || baton::Clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

bool LockedFile::exists(const std::filesystem::path& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

LockedFile::LockedFile(LockedFile&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

LockedFile::~LockedFile() {
  if (fd_ >= 0) ::close(fd_);
}

LockState LockedFile::load(std::string_view name) {
  std::string text;
  char buf[8192];
  for (off_t at = 0;;) {
    const ssize_t n = ::pread(fd_, buf, sizeof buf, at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_io(Failure::unavailable, path_, "read", errno);
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    at += n;
  }
  auto state = parse(text);
  if (!state) baton::kit::raise(Failure::error, "flock " + path_.string(), "malformed lock file");
  if (state->name.empty()) state->name = std::string(name);
  if (!name.empty() && state->name != name) {
    baton::kit::raise(Failure::error, "flock " + path_.string(), "hash collision with another lock name");
  }
  return std::move(*state);
}

void LockedFile::store(const LockState& state, bool durable) {
  const std::string text = serialize(state);
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::pwrite(fd_, text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_io(Failure::unavailable, path_, "write", errno);
    done += static_cast<std::size_t>(n);
  }
  if (::ftruncate(fd_, static_cast<off_t>(text.size())) != 0) fail_io(Failure::unavailable, path_, "truncate", errno);
  if (durable && ::fdatasync(fd_) != 0) fail_io(Failure::unavailable, path_, "fdatasync", errno);
}

}  // namespace baton_flock
