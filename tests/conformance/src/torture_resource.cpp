// The torture case's fenced resource (torture.hpp), its files and its clock.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>

#include "support.hpp"
#include "torture.hpp"

namespace baton::conformance::detail::torture {

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

fs::path helper_log(const fs::path& dir, int slot, int incarnation) {
  return dir / ("helper-" + std::to_string(slot) + "-" + std::to_string(incarnation) + ".log");
}

fs::path resource_file(const fs::path& dir, int name) {
  return dir / ("resource-" + std::to_string(name));
}

namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// flock(LOCK_EX) for one scope. The kernel drops it if the process dies.
class FileLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) fail("torture resource: flock");
    }
  }
  ~FileLock() { ::flock(fd_, LOCK_UN); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

// The resource's state as its last record left it.
struct State {
  std::uint64_t seq = 0;
  std::uint64_t max = 0;
  std::string occupant = "-";
  std::uint64_t occupant_token = 0;
};

State read_state(int fd, off_t at) {
  std::string record(record_size, '\0');
  if (::pread(fd, record.data(), record_size, at) != static_cast<ssize_t>(record_size)) {
    fail("torture resource: pread");
  }
  State s;
  s.seq = std::stoull(field(record, "seq"));
  s.max = std::stoull(field(record, "max"));
  s.occupant = field(record, "occ");
  s.occupant_token = std::stoull(field(record, "occ_token"));
  return s;
}

void write_record(int fd, off_t at, std::string text) {
  if (text.size() >= record_size) throw std::length_error("torture resource: record too long: " + text);
  text.resize(record_size - 1, ' ');
  text.push_back('\n');
  if (::pwrite(fd, text.data(), record_size, at) != static_cast<ssize_t>(record_size)) {
    fail("torture resource: pwrite");
  }
}

}  // namespace

FencedResource::FencedResource(const fs::path& path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("torture resource: open");
}

FencedResource::~FencedResource() {
  if (fd_ >= 0) ::close(fd_);
}

FencedResource::FencedResource(FencedResource&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

std::string FencedResource::apply(std::string_view op, const std::string& id, std::uint64_t token) {
  FileLock guard(fd_);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("torture resource: fstat");
  // A record cut short cannot happen (one aligned pwrite), but never build on one.
  const off_t end = st.st_size / static_cast<off_t>(record_size) * static_cast<off_t>(record_size);
  State s = end > 0 ? read_state(fd_, end - static_cast<off_t>(record_size)) : State{};
  std::string verdict = "ok";
  if (token < s.max) {
    verdict = "stale";  // fenced off: the state stays as it was
  } else {
    s.max = token;
    if (op == "enter") {
      if (s.occupant != "-" && s.occupant != id) verdict = "overlap";
      s.occupant = id;
      s.occupant_token = token;
    } else if (op == "exit" && s.occupant == id) {
      s.occupant = "-";
      s.occupant_token = 0;
    }
  }
  ++s.seq;
  write_record(fd_, end,
               "seq=" + std::to_string(s.seq) + " op=" + std::string(op) + " id=" + id +
                   " token=" + std::to_string(token) + " verdict=" + verdict +
                   " max=" + std::to_string(s.max) + " occ=" + s.occupant +
                   " occ_token=" + std::to_string(s.occupant_token) + " t=" + std::to_string(now_ns()));
  return verdict;
}

}  // namespace baton::conformance::detail::torture
