#include "wake_layout.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace baton::sqlite::detail {

std::uint64_t name_hash(std::string_view name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : name) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::unique_ptr<WakeMapping> WakeMapping::open(const std::filesystem::path& database) noexcept {
  try {
    const std::string path = database.string() + "-wake";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) return nullptr;
    struct stat st {};
    bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (ok && static_cast<std::size_t>(st.st_size) < sizeof(WakeFile)) ok = ::ftruncate(fd, sizeof(WakeFile)) == 0;
    void* base = ok ? ::mmap(nullptr, sizeof(WakeFile), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    ::close(fd);
    if (base == MAP_FAILED) return nullptr;
    std::unique_ptr<WakeMapping> mapping(new WakeMapping(static_cast<WakeFile*>(base)));
    WakeFile& file = mapping->file();
    std::uint32_t expected = 0;
    if (!atomic(file.header.magic).compare_exchange_strong(expected, wake_file_magic) && expected != wake_file_magic) {
      return nullptr;
    }
    // Without the join-request region (another layout there) waiters queue
    // themselves.
    expected = 0;
    mapping->join_region_ =
        atomic(file.joins.magic).compare_exchange_strong(expected, join_region_magic) || expected == join_region_magic;
    return mapping;
  } catch (...) {
    return nullptr;
  }
}

WakeMapping::~WakeMapping() { ::munmap(file_, sizeof(WakeFile)); }

}  // namespace baton::sqlite::detail
