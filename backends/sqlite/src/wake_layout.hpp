// wake_layout.hpp: the wake file (`<database>-wake`, docs/design.md §3.5)
// as one shared mapping, and one small typed view per region.
//
// Every process that uses the database maps the same file, so the layout is
// a contract between processes: the offsets below are fixed (checked by
// static_assert), and the two magic words double as layout versions. A file
// with another header magic is left alone (its users only poll); a file
// without the join-request region's magic is grown to hold it.
//
// Every word is shared memory written by other processes: it is read and
// written only through std::atomic_ref, and a length read from it is never
// trusted to stay inside its entry.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

namespace baton::sqlite::detail {

inline constexpr std::uint32_t wake_file_magic = 0x6261'7701;     // "baw" 1
inline constexpr std::uint32_t join_region_magic = 0x6261'6a01;   // "baj" 1
inline constexpr std::size_t waiter_count_slots = 1024;
inline constexpr std::size_t ticket_word_count = 4096;
inline constexpr std::size_t join_entry_count = 128;
inline constexpr std::size_t join_entry_bytes = 512;

// The five strings of a join request, in their order in an entry.
enum JoinString : int { join_name, join_owner, join_host, join_pid_ns, join_boot_id, join_string_count };

// One posted join request. Written only by its poster while the entry is
// `filling`, read by others only after they saw it `posted` (and, to rely on
// what they read, claimed it); `ticket` is written by the claiming writer
// before it publishes `done`.
struct JoinEntry {
  std::uint64_t seq;  // posting order
  std::int64_t ticket;
  std::int64_t owner_pid, proc_pid, proc_start;
  std::int64_t heartbeat_ms, ttl_ms;
  std::uint32_t has_start;
  std::uint32_t abandoned;                  // atomic: the poster no longer waits for it
  std::uint16_t length[join_string_count];  // of each JoinString, back to back in `bytes`
  char bytes[join_entry_bytes - 7 * 8 - 2 * 4 - join_string_count * 2];
};
static_assert(sizeof(JoinEntry) == join_entry_bytes);

// The whole file. Only ever grown, so processes creating it at once agree.
struct WakeFile {
  struct Header {
    std::uint32_t magic;
    std::uint32_t writes_ended;   // write transactions ended (wraps)
    std::uint32_t write_waiters;  // connections sleeping on writes_ended
    std::uint32_t unused[13];
  } header;
  std::uint32_t waiter_counts[waiter_count_slots];  // by a hash of the name
  std::uint32_t wake_words[ticket_word_count];      // by ticket
  struct JoinRegion {
    std::uint32_t magic;
    std::uint32_t unused;
    std::uint64_t posting_counter;
    std::uint8_t unused_header[48];
    // Scanned by a writer on every contended release: kept in arrays of
    // their own (3 KiB), apart from the entries (64 KiB).
    std::uint64_t controls[join_entry_count];
    std::uint64_t name_hashes[join_entry_count];
    std::uint32_t wake_words[join_entry_count];
    std::uint8_t unused_words[64];
    JoinEntry entries[join_entry_count];
  } joins;
  std::uint64_t grant_words[ticket_word_count];  // by ticket
};
static_assert(offsetof(WakeFile, waiter_counts) == 64);
static_assert(offsetof(WakeFile, wake_words) == 4160);
static_assert(offsetof(WakeFile, joins) == 20544);
static_assert(offsetof(WakeFile::JoinRegion, controls) == 64);
static_assert(offsetof(WakeFile::JoinRegion, entries) == 2688);
static_assert(offsetof(WakeFile, grant_words) == 88768);
static_assert(sizeof(WakeFile) == 121536);

template <class T>
std::atomic_ref<T> atomic(T& word) noexcept {
  return std::atomic_ref<T>(word);
}

// FNV-1a of a lock name: stable across builds and processes (std::hash is
// not promised to be).
std::uint64_t name_hash(std::string_view name) noexcept;

// The file mapped into this process. Not copyable, not movable.
class WakeMapping {
 public:
  // Maps `<database>-wake`, creating or growing it as needed. nullptr when
  // that is impossible (a read-only directory, no shared memory) or the
  // file has another layout.
  static std::unique_ptr<WakeMapping> open(const std::filesystem::path& database) noexcept;
  WakeMapping(const WakeMapping&) = delete;
  WakeMapping& operator=(const WakeMapping&) = delete;
  ~WakeMapping();

  WakeFile& file() const noexcept { return *file_; }
  // Whether the join-request region is in use (its magic is ours).
  bool has_join_region() const noexcept { return join_region_; }

 private:
  explicit WakeMapping(WakeFile* file) noexcept : file_(file) {}
  WakeFile* file_;
  bool join_region_ = false;
};

// Per slot of a name hash: how many waiters of names in the slot may be
// queued.
class WaiterCounts {
 public:
  explicit WaiterCounts(WakeFile& file) noexcept : slots_(file.waiter_counts) {}
  std::atomic_ref<std::uint32_t> of(std::string_view name) const noexcept {
    return atomic(slots_[name_hash(name) % waiter_count_slots]);
  }

 private:
  std::uint32_t* slots_;
};

// Per ticket (modulo the table): a word a waiter sleeps on, and the last
// ticket a hand-off granted.
class TicketWords {
 public:
  explicit TicketWords(WakeFile& file) noexcept : wake_(file.wake_words), grants_(file.grant_words) {}
  std::uint32_t& wake_word(std::int64_t ticket) const noexcept { return wake_[slot(ticket)]; }
  std::atomic_ref<std::uint64_t> grant_word(std::int64_t ticket) const noexcept {
    return atomic(grants_[slot(ticket)]);
  }

 private:
  static std::size_t slot(std::int64_t ticket) noexcept {
    return static_cast<std::uint64_t>(ticket) % ticket_word_count;
  }
  std::uint32_t* wake_;
  std::uint64_t* grants_;
};

// The join requests' entries, their control words, name hashes and wake-up
// words (join_requests.hpp).
class JoinSlots {
 public:
  explicit JoinSlots(WakeFile& file) noexcept : region_(&file.joins) {}
  std::atomic_ref<std::uint64_t> control(int entry) const noexcept { return atomic(region_->controls[entry]); }
  std::atomic_ref<std::uint64_t> name_hash(int entry) const noexcept { return atomic(region_->name_hashes[entry]); }
  std::uint32_t& wake_word(int entry) const noexcept { return region_->wake_words[entry]; }
  JoinEntry& entry(int entry) const noexcept { return region_->entries[entry]; }
  std::atomic_ref<std::uint64_t> posting_counter() const noexcept { return atomic(region_->posting_counter); }

 private:
  WakeFile::JoinRegion* region_;
};

}  // namespace baton::sqlite::detail
