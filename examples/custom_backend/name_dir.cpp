#include "name_dir.hpp"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>
#include <utility>

#include <baton/kit/errors.hpp>

namespace baton_flock {

namespace {

namespace fs = std::filesystem;
using baton::kit::Failure;
__extension__ typedef unsigned __int128 u128;  // GCC and Clang

constexpr std::size_t ticket_digits = 20;  // every uint64_t, so names sort as numbers

[[noreturn]] void fail_io(Failure kind, const fs::path& path, std::string_view what, int err) {
  baton::kit::raise(kind, "flock " + path.string() + ": " + std::string(what), std::strerror(err));
}

// "t.<20 digits>" or "x.<20 digits>": the ticket; nullopt for other names.
std::optional<std::uint64_t> ticket_of(std::string_view file, char kind) {
  if (file.size() != 2 + ticket_digits || file[0] != kind || file[1] != '.') return std::nullopt;
  std::uint64_t n = 0;
  for (char c : file.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

std::string ticket_name(char kind, std::uint64_t ticket) {
  char buf[2 + ticket_digits + 1];
  std::snprintf(buf, sizeof buf, "%c.%020llu", kind, static_cast<unsigned long long>(ticket));
  return buf;
}

// A fresh temporary name in `dir`; its pid and start time let others remove
// it once this process is gone.
fs::path temp_path(const fs::path& dir) {
  static std::atomic<std::uint64_t> counter{0};
  const ProcessId self = self_process();
  return dir / ("tmp." + std::to_string(self.pid) + "." + std::to_string(self.start) + "." +
                std::to_string(counter.fetch_add(1)));
}

// True when `file` is a temporary file of a process that is gone.
bool orphaned_temp(std::string_view file) {
  long long pid = 0;
  unsigned long long start = 0, n = 0;
  if (std::sscanf(std::string(file).c_str(), "tmp.%lld.%llu.%llu", &pid, &start, &n) != 3) return false;
  return !is_alive(ProcessId{host_name(), pid, start});
}

void write_all(int fd, std::string_view bytes, off_t at, const fs::path& path) {
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, at + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_io(Failure::unavailable, path, "write", errno);
    done += static_cast<std::size_t>(n);
  }
}

std::string read_all(int fd, std::size_t limit, const fs::path& path) {
  std::string out(limit, '\0');
  std::size_t done = 0;
  while (done < limit) {
    const ssize_t n = ::pread(fd, out.data() + done, limit - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_io(Failure::unavailable, path, "read", errno);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

// Writes `bytes` to a new temporary file in `dir` and links it as `target`.
// Returns the open descriptor (read-write), or -1 if `target` exists.
int create_linked(const fs::path& dir, const fs::path& target, std::string_view bytes) {
  const fs::path temp = temp_path(dir);
  const int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail_io(Failure::unavailable, temp, "open", errno);
  int err = 0;
  try {
    write_all(fd, bytes, 0, temp);
  } catch (...) {
    ::unlink(temp.c_str());
    ::close(fd);
    throw;
  }
  if (::link(temp.c_str(), target.c_str()) != 0) err = errno;
  ::unlink(temp.c_str());
  if (err == 0) return fd;
  ::close(fd);
  if (err == EEXIST) return -1;
  fail_io(Failure::unavailable, target, "link", err);
}

std::optional<std::string> read_file(const fs::path& path, std::size_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail_io(Failure::unavailable, path, "open", errno);
  }
  std::string text;
  try {
    text = read_all(fd, limit, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return text;
}

}  // namespace

fs::path dir_for(const fs::path& root, std::string_view name) {
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
  return root / (file + ".d");
}

std::optional<std::string> NameDir::read_name(const fs::path& dir) { return read_file(dir / "name", 4096); }

void NameDir::ensure() const {
  if (::mkdir(path_.c_str(), 0755) != 0 && errno != EEXIST) fail_io(Failure::unavailable, path_, "mkdir", errno);
  if (!read_name(path_)) {
    const int fd = create_linked(path_, path_ / "name", name_);
    if (fd >= 0) ::close(fd);  // -1: another process linked it first
  }
  if (!exists()) fail_io(Failure::unavailable, path_, "name file", ENOENT);
}

bool NameDir::exists() const {
  const auto stored = read_name(path_);
  if (!stored) return false;
  if (*stored != name_) {
    baton::kit::raise(Failure::error, "flock " + path_.string(), "hash collision with another lock name");
  }
  return true;
}

Listing NameDir::scan() const {
  Listing out;
  DIR* d = ::opendir(path_.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    fail_io(Failure::unavailable, path_, "opendir", errno);
  }
  errno = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view file = e->d_name;
    if (auto t = ticket_of(file, 't')) {
      out.live.push_back(*t);
      out.highest = std::max(out.highest, *t);
    } else if (auto x = ticket_of(file, 'x')) {
      out.tombstones.push_back(*x);
      out.highest = std::max(out.highest, *x);
      out.highest_tombstone = std::max(out.highest_tombstone, *x);
    } else if (file.starts_with("tmp.") && orphaned_temp(file)) {
      ::unlink((path_ / file).c_str());
    }
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) fail_io(Failure::unavailable, path_, "readdir", err);
  std::sort(out.live.begin(), out.live.end());
  return out;
}

bool NameDir::issued(std::uint64_t ticket) const {
  // The entry first: a rename to the tombstone between the two lookups then
  // shows up in the second.
  for (char kind : {'t', 'x'}) {
    struct stat st {};
    if (::stat((path_ / ticket_name(kind, ticket)).c_str(), &st) == 0) return true;
    if (errno != ENOENT) fail_io(Failure::unavailable, path_, "stat", errno);
  }
  return false;
}

std::optional<Record> NameDir::read(std::uint64_t ticket) const {
  const fs::path path = entry_path(ticket);
  // Only a write in progress tears a slot, and never both: a few re-reads.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const auto bytes = read_file(path, entry_size);
    if (!bytes) return std::nullopt;
    if (auto v = decode_entry(*bytes)) return std::move(v->record);
    std::this_thread::yield();
  }
  baton::kit::raise(Failure::error, "flock " + path.string(), "malformed entry");
}

bool NameDir::remove(std::uint64_t ticket, bool granted) const {
  const fs::path path = entry_path(ticket);
  const int rc = granted ? ::rename(path.c_str(), (path_ / ticket_name('x', ticket)).c_str()) : ::unlink(path.c_str());
  if (rc == 0) return true;
  if (errno == ENOENT) return false;
  fail_io(Failure::unavailable, path, granted ? "rename" : "unlink", errno);
}

void NameDir::collect(const Listing& listing) const {
  for (std::uint64_t x : listing.tombstones) {
    if (x < listing.highest_tombstone) ::unlink((path_ / ticket_name('x', x)).c_str());
  }
}

void NameDir::sync() const {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_io(Failure::unavailable, path_, "open", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) fail_io(Failure::unavailable, path_, "fsync", err);
}

fs::path NameDir::entry_path(std::uint64_t ticket) const { return path_ / ticket_name('t', ticket); }

std::optional<OwnEntry> OwnEntry::create(const NameDir& dir, std::uint64_t ticket, const Record& record) {
  // Both slots hold the record, so the entry is complete from its first link.
  const std::string bytes = encode_slot(record, 0) + encode_slot(record, 1);
  const fs::path path = dir.entry_path(ticket);
  const int fd = create_linked(dir.path(), path, bytes);
  if (fd < 0) return std::nullopt;
  return OwnEntry(fd, path, ticket, record);
}

OwnEntry::OwnEntry(OwnEntry&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      ticket_(other.ticket_),
      record_(std::move(other.record_)),
      sequence_(other.sequence_) {}

OwnEntry& OwnEntry::operator=(OwnEntry&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    ticket_ = other.ticket_;
    record_ = std::move(other.record_);
    sequence_ = other.sequence_;
  }
  return *this;
}

OwnEntry::~OwnEntry() {
  if (fd_ >= 0) ::close(fd_);
}

void OwnEntry::write(const Record& record, bool durable) {
  const std::uint64_t next = sequence_ + 1;
  write_all(fd_, encode_slot(record, next), static_cast<off_t>((next % 2) * slot_size), path_);
  if (durable && ::fdatasync(fd_) != 0) fail_io(Failure::unavailable, path_, "fdatasync", errno);
  sequence_ = next;
  record_ = record;
}

bool OwnEntry::present() const {
  struct stat mine {}, named {};
  if (::fstat(fd_, &mine) != 0) fail_io(Failure::unavailable, path_, "fstat", errno);
  if (::stat(path_.c_str(), &named) != 0) {
    if (errno == ENOENT) return false;
    fail_io(Failure::unavailable, path_, "stat", errno);
  }
  return mine.st_ino == named.st_ino && mine.st_dev == named.st_dev;
}

}  // namespace baton_flock
