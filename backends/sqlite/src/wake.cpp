#include "wake.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstring>
#include <ctime>

#include "host.hpp"

namespace baton::sqlite::detail {
namespace {

// Layout, in 32-bit words: a header, the name slots, the ticket words. The
// magic doubles as a layout version: a file of another layout is left alone
// (and this process only polls).
constexpr std::uint32_t magic = 0x6261'7701;  // "baw" 1
constexpr std::size_t header_words = 16;
constexpr std::size_t name_slots = 1024;
constexpr std::size_t ticket_words = 4096;
constexpr std::size_t total_words = header_words + name_slots + ticket_words;
constexpr std::size_t file_size = total_words * sizeof(std::uint32_t);

// Header words after the magic.
constexpr std::size_t writes_word = 1;
constexpr std::size_t write_waiters_word = 2;
// The join request region, after the ticket words: a header (its own magic,
// the posting counter), then per entry a control word, a name hash and a
// wake-up word in arrays of their own (a writer scans them on every
// contended release: 3 KiB, not 64), then the entries. A file made by a
// version without the region is grown to hold it; its magic word tells
// whether the region is in use.
constexpr std::uint32_t joins_magic = 0x6261'6a01;  // "baj" 1
constexpr std::size_t join_entries = 128;
constexpr std::size_t entry_bytes = 512;
constexpr std::size_t joins_offset = file_size;  // bytes; a multiple of 8
constexpr std::size_t joins_header_bytes = 64;
constexpr std::size_t controls_offset = joins_offset + joins_header_bytes;
constexpr std::size_t hashes_offset = controls_offset + join_entries * 8;
constexpr std::size_t join_words_offset = hashes_offset + join_entries * 8;
constexpr std::size_t entries_offset = join_words_offset + join_entries * 4 + 64;
// Then, by ticket (as the ticket words), the last ticket granted by a
// hand-off: see granted().
constexpr std::size_t grants_offset = entries_offset + join_entries * entry_bytes;
constexpr std::size_t mapped_size = grants_offset + ticket_words * 8;

// A control word: state (8 bits), generation (24 bits, bumped on every
// change, so a stale compare-and-swap never succeeds), pid (32 bits: the
// poster's, or the claiming writer's while claimed).
enum : std::uint64_t { free_state = 0, filling_state = 1, posted_state = 2, claimed_state = 3, done_state = 4 };
constexpr std::uint64_t make_control(std::uint64_t state, std::uint64_t gen, std::int64_t pid) noexcept {
  return state << 56 | (gen & 0xff'ffff) << 32 | (static_cast<std::uint64_t>(pid) & 0xffff'ffff);
}
constexpr std::uint64_t state_of(std::uint64_t c) noexcept { return c >> 56; }
constexpr std::uint64_t gen_of(std::uint64_t c) noexcept { return (c >> 32) & 0xff'ffff; }
constexpr std::int64_t pid_of(std::uint64_t c) noexcept { return static_cast<std::int64_t>(c & 0xffff'ffff); }

std::atomic_ref<std::uint32_t> at(std::uint32_t* p) noexcept { return std::atomic_ref<std::uint32_t>(*p); }

// Watches `word` for up to `limit` without sleeping. True when it moved past
// `seen`.
bool watch(const std::uint32_t* word, std::uint32_t seen, std::chrono::nanoseconds limit) noexcept {
  const auto until = std::chrono::steady_clock::now() + limit;
  do {
    for (int i = 0; i < 64; ++i) {
      if (std::atomic_ref<const std::uint32_t>(*word).load(std::memory_order_acquire) != seen) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

// FUTEX_WAIT on `word` while it holds `seen`, for at most `timeout`. Not
// FUTEX_PRIVATE: the word is shared with other processes through the file.
// EAGAIN (the word moved), EINTR and ETIMEDOUT all mean "look again".
void futex_wait(std::uint32_t* word, std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{static_cast<time_t>(s.count()), static_cast<long>((timeout - s).count())};
  ::syscall(SYS_futex, word, FUTEX_WAIT, seen, &ts, nullptr, 0);
}

// Bumps `word` and wakes every process sleeping on it (futex_wait() with
// the value before the bump).
void bump_and_wake(std::uint32_t* word) noexcept {
  at(word).fetch_add(1);
  ::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

// FNV-1a: stable across builds and processes (std::hash is not promised to be).
std::uint64_t name_hash(std::string_view name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : name) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::atomic_ref<std::uint64_t> at64(std::uint64_t* p) noexcept { return std::atomic_ref<std::uint64_t>(*p); }

std::int64_t my_pid() noexcept { return static_cast<std::int64_t>(::getpid()); }

}  // namespace

// One join request. Written only by its poster while the entry is
// `filling`, read by others only after they saw it `posted` (and, to rely
// on what they read, claimed it); `ticket` is written by the claiming
// writer before it publishes `done`.
struct WakeBoard::Entry {
  std::uint64_t seq;  // posting order
  std::int64_t ticket;
  std::int64_t owner_pid, proc_pid, proc_start;
  std::int64_t heartbeat_ms, ttl_ms;
  std::uint32_t has_start;
  std::uint32_t abandoned;  // atomic: the poster no longer waits for it
  std::uint16_t length[5];  // name, owner, host, pid_ns, boot_id
  char bytes[entry_bytes - 7 * 8 - 2 * 4 - 5 * 2];
};

std::shared_ptr<WakeBoard> WakeBoard::open(const std::filesystem::path& database) noexcept {
  try {
    const std::string path = database.string() + "-wake";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) return nullptr;
    struct stat st {};
    bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    // Only ever grown, so two processes creating it at once agree.
    if (ok && static_cast<std::size_t>(st.st_size) < mapped_size) ok = ::ftruncate(fd, mapped_size) == 0;
    void* base = ok ? ::mmap(nullptr, mapped_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    ::close(fd);
    if (base == MAP_FAILED) return nullptr;
    std::shared_ptr<WakeBoard> board(new WakeBoard(base, mapped_size));
    std::uint32_t expected = 0;
    if (!at(board->base_).compare_exchange_strong(expected, magic) && expected != magic) return nullptr;
    // Without the request region (another layout there) waiters queue
    // themselves, as before it existed.
    expected = 0;
    auto* joins = reinterpret_cast<std::uint32_t*>(static_cast<char*>(base) + joins_offset);
    board->joins_ = at(joins).compare_exchange_strong(expected, joins_magic) || expected == joins_magic;
    return board;
  } catch (...) {
    return nullptr;
  }
}

WakeBoard::~WakeBoard() { ::munmap(base_, size_); }

std::uint32_t* WakeBoard::slot(std::string_view name) const noexcept {
  return base_ + header_words + name_hash(name) % name_slots;
}

std::uint32_t* WakeBoard::word(std::int64_t ticket) const noexcept {
  return base_ + header_words + name_slots + static_cast<std::uint64_t>(ticket) % ticket_words;
}

void WakeBoard::add_waiter(std::string_view name) noexcept { at(slot(name)).fetch_add(1); }

void WakeBoard::remove_waiter(std::string_view name) noexcept {
  // Never below zero: a reset may have zeroed the count under a waiter.
  auto count = at(slot(name));
  std::uint32_t n = count.load();
  while (n > 0 && !count.compare_exchange_weak(n, n - 1)) {
  }
}

std::uint32_t WakeBoard::waiters(std::string_view name) const noexcept { return at(slot(name)).load(); }

std::uint32_t WakeBoard::sequence(std::int64_t ticket) const noexcept { return at(word(ticket)).load(); }

void WakeBoard::sleep(std::int64_t ticket, std::uint32_t seen, std::chrono::nanoseconds timeout) const noexcept {
  if (timeout <= std::chrono::nanoseconds::zero()) return;
  futex_wait(word(ticket), seen, timeout);
}


void WakeBoard::wake(std::int64_t ticket) noexcept {
  bump_and_wake(word(ticket));
  if (!joins_) return;
  // A poster whose row a writer queued still sleeps on its entry (it was
  // not woken then: most are far back, and each wake-up costs a context
  // switch on the hand-off's path). It learns its ticket when it is woken.
  for (int i = 0; i < static_cast<int>(join_entries); ++i) {
    if (state_of(at64(control(i)).load(std::memory_order_acquire)) == done_state && ticket_of(i) == ticket) {
      join_wake(i);
    }
  }
}

void WakeBoard::hand_over(std::int64_t ticket) noexcept {
  if (joins_) at64(grant_word(ticket)).store(static_cast<std::uint64_t>(ticket), std::memory_order_release);
  wake(ticket);
}

bool WakeBoard::granted(std::int64_t ticket) const noexcept {
  return joins_ && at64(grant_word(ticket)).load(std::memory_order_acquire) == static_cast<std::uint64_t>(ticket);
}

std::uint64_t* WakeBoard::grant_word(std::int64_t ticket) const noexcept {
  return reinterpret_cast<std::uint64_t*>(reinterpret_cast<char*>(base_) + grants_offset) +
         static_cast<std::uint64_t>(ticket) % ticket_words;
}

std::uint32_t WakeBoard::writes() const noexcept { return at(base_ + writes_word).load(); }

void WakeBoard::wait_for_write(std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept {
  if (timeout <= std::chrono::nanoseconds::zero()) return;
  std::uint32_t* word = base_ + writes_word;
  // Most write transactions last tens of microseconds: watch a little
  // before sleeping, as a wake-up costs about as much.
  if (watch(word, seen, std::min<std::chrono::nanoseconds>(timeout, std::chrono::microseconds(20)))) return;
  // Counted before the word is compared (inside FUTEX_WAIT), and wrote()
  // bumps the word before it reads the count: no wake-up is lost.
  at(base_ + write_waiters_word).fetch_add(1);
  futex_wait(word, seen, timeout);
  at(base_ + write_waiters_word).fetch_sub(1);
}

void WakeBoard::wrote() noexcept {
  std::uint32_t* word = base_ + writes_word;
  at(word).fetch_add(1);
  if (at(base_ + write_waiters_word).load() != 0) ::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

void WakeBoard::reset() noexcept {
  for (std::size_t i = header_words; i < total_words; ++i) at(base_ + i).store(0);
  if (!joins_) return;
  for (int i = 0; i < static_cast<int>(join_entries); ++i) {
    at64(control(i)).store(0);
    at64(hash(i)).store(0);
  }
  for (std::size_t t = 0; t < ticket_words; ++t) at64(grant_word(static_cast<std::int64_t>(t))).store(0);
}

// ---- join requests ------------------------------------------------------------

WakeBoard::Entry* WakeBoard::entry(int index) const noexcept {
  static_assert(sizeof(Entry) <= entry_bytes);
  return reinterpret_cast<Entry*>(reinterpret_cast<char*>(base_) + entries_offset + static_cast<std::size_t>(index) * entry_bytes);
}
std::uint64_t* WakeBoard::control(int index) const noexcept {
  return reinterpret_cast<std::uint64_t*>(reinterpret_cast<char*>(base_) + controls_offset) + index;
}
std::uint64_t* WakeBoard::hash(int index) const noexcept {
  return reinterpret_cast<std::uint64_t*>(reinterpret_cast<char*>(base_) + hashes_offset) + index;
}
std::uint32_t* WakeBoard::join_word(int index) const noexcept {
  return reinterpret_cast<std::uint32_t*>(reinterpret_cast<char*>(base_) + join_words_offset) + index;
}
std::uint64_t* WakeBoard::join_counter() const noexcept {
  return reinterpret_cast<std::uint64_t*>(reinterpret_cast<char*>(base_) + joins_offset + 8);
}

namespace {
// The strings of an entry, in the order of Entry::length.
struct Strings {
  std::string_view s[5];
};
Strings strings_of(const char* bytes, const std::uint16_t* length, std::size_t capacity) noexcept {
  Strings out;
  std::size_t at_byte = 0;
  for (int i = 0; i < 5; ++i) {
    // The file is shared: never trust a length to stay inside the entry.
    const std::size_t n = std::min<std::size_t>(length[i], capacity - at_byte);
    out.s[i] = std::string_view(bytes + at_byte, n);
    at_byte += n;
  }
  return out;
}
}  // namespace

std::optional<int> WakeBoard::post(const JoinRequest& r) noexcept {
  if (!joins_) return std::nullopt;
  const std::string_view parts[5] = {r.name, r.owner, r.host, r.pid_ns, r.boot_id};
  std::size_t total = 0;
  for (auto part : parts) {
    if (part.size() > 0xffff) return std::nullopt;
    total += part.size();
  }
  if (total > sizeof(Entry::bytes)) return std::nullopt;
  const std::int64_t pid = my_pid();
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < static_cast<int>(join_entries); ++i) {
      auto c = at64(control(i));
      std::uint64_t seen = c.load(std::memory_order_relaxed);
      if (state_of(seen) != free_state) continue;
      const std::uint64_t mine = make_control(filling_state, gen_of(seen) + 1, pid);
      if (!c.compare_exchange_strong(seen, mine)) continue;
      Entry* e = entry(i);
      std::atomic_ref<std::int64_t>(e->ticket).store(0);
      e->owner_pid = r.owner_pid;
      e->proc_pid = r.proc_pid;
      e->proc_start = r.proc_start.value_or(0);
      e->has_start = r.proc_start ? 1 : 0;
      e->heartbeat_ms = r.heartbeat_ms;
      e->ttl_ms = r.ttl_ms;
      std::atomic_ref<std::uint32_t>(e->abandoned).store(0);
      std::size_t offset = 0;
      for (int k = 0; k < 5; ++k) {
        e->length[k] = static_cast<std::uint16_t>(parts[k].size());
        if (!parts[k].empty()) std::memcpy(e->bytes + offset, parts[k].data(), parts[k].size());
        offset += parts[k].size();
      }
      at64(hash(i)).store(name_hash(r.name), std::memory_order_relaxed);
      // The order among requests; a writer inserts rows oldest first.
      e->seq = at64(join_counter()).fetch_add(1);
      c.store(make_control(posted_state, gen_of(mine) + 1, pid), std::memory_order_release);
      return i;
    }
    reclaim(r.pid_ns);
  }
  return std::nullopt;
}

WakeBoard::Seen WakeBoard::join_state(int index) const noexcept {
  const std::uint64_t c = at64(control(index)).load(std::memory_order_acquire);
  Seen out{JoinState::posted};
  switch (state_of(c)) {
    case done_state:
      out.state = JoinState::done;
      out.ticket = ticket_of(index);
      break;
    case claimed_state:
      out.state = JoinState::claimed;
      // The claimer may be of another pid namespace, and then a probe of
      // its pid says nothing; the poster only uses this to decide to look
      // for itself, which is always safe.
      out.claimer_gone = process_gone(pid_of(c), std::nullopt);
      break;
    default:
      break;
  }
  return out;
}

bool WakeBoard::cancel(int index) noexcept {
  auto c = at64(control(index));
  std::uint64_t seen = c.load();
  while (state_of(seen) == posted_state) {
    if (c.compare_exchange_weak(seen, make_control(free_state, gen_of(seen) + 1, 0))) return true;
  }
  return false;
}

void WakeBoard::abandon(int index) noexcept {
  std::atomic_ref<std::uint32_t>(entry(index)->abandoned).store(1);
  auto c = at64(control(index));
  std::uint64_t seen = c.load();
  // A claimed entry is freed by its writer when it lets go (it reads the
  // flag after its own compare-and-swap: one of the two sees the other).
  while (state_of(seen) != free_state && state_of(seen) != claimed_state) {
    if (c.compare_exchange_weak(seen, make_control(free_state, gen_of(seen) + 1, 0))) return;
  }
}

std::uint32_t WakeBoard::join_sequence(int index) const noexcept { return at(join_word(index)).load(); }

void WakeBoard::join_sleep(int index, std::uint32_t seen, std::chrono::nanoseconds timeout) const noexcept {
  if (timeout <= std::chrono::nanoseconds::zero()) return;
  futex_wait(join_word(index), seen, timeout);
}

void WakeBoard::join_wake(int index) noexcept { bump_and_wake(join_word(index)); }

bool WakeBoard::entry_is(int index, std::string_view name, std::uint64_t h) const noexcept {
  if (at64(hash(index)).load(std::memory_order_relaxed) != h) return false;
  const Entry* e = entry(index);
  return strings_of(e->bytes, e->length, sizeof e->bytes).s[0] == name;
}

bool WakeBoard::poster_gone(int index, std::string_view pid_ns) const noexcept {
  const Entry* e = entry(index);
  if (pid_ns.empty() || strings_of(e->bytes, e->length, sizeof e->bytes).s[3] != pid_ns) return false;
  return process_gone(e->proc_pid, e->has_start ? std::optional<std::int64_t>(e->proc_start) : std::nullopt);
}

void WakeBoard::wake_joiners(std::string_view name) noexcept {
  if (!joins_) return;
  const std::uint64_t h = name_hash(name);
  for (int i = 0; i < static_cast<int>(join_entries); ++i) {
    if (state_of(at64(control(i)).load(std::memory_order_relaxed)) != posted_state) continue;
    if (at64(hash(i)).load(std::memory_order_relaxed) == h) join_wake(i);
  }
}

std::size_t WakeBoard::joiners(std::string_view name, std::string_view pid_ns, std::int64_t counter) const noexcept {
  if (!joins_) return 0;
  const std::uint64_t h = name_hash(name);
  std::size_t n = 0;
  for (int i = 0; i < static_cast<int>(join_entries); ++i) {
    const std::uint64_t seen = at64(control(i)).load(std::memory_order_acquire);
    const auto state = state_of(seen);
    if (state != posted_state && state != claimed_state && state != done_state) continue;
    if (at64(hash(i)).load(std::memory_order_relaxed) != h) continue;
    const std::int64_t ticket = ticket_of(i);
    if (ticket != 0 && ticket <= counter) continue;  // its row is in the snapshot (or was)
    // Read without a claim: the entry may be reused meanwhile. Counted only
    // if its control word did not move while it was read.
    const bool match = entry_is(i, name, h) && !poster_gone(i, pid_ns);
    if (match && at64(control(i)).load(std::memory_order_acquire) == seen) ++n;
  }
  return n;
}

std::int64_t WakeBoard::ticket_of(int index) const noexcept {
  return std::atomic_ref<std::int64_t>(entry(index)->ticket).load(std::memory_order_acquire);
}

void WakeBoard::Claims::assign(Item& item, std::int64_t ticket) noexcept {
  item.ticket = ticket;
  std::atomic_ref<std::int64_t>(board_->entry(item.entry)->ticket).store(ticket, std::memory_order_release);
}

void WakeBoard::reclaim(std::string_view pid_ns) noexcept {
  for (int i = 0; i < static_cast<int>(join_entries); ++i) {
    auto c = at64(control(i));
    std::uint64_t seen = c.load();
    const auto state = state_of(seen);
    if (state == free_state) continue;
    bool dead;
    if (state == claimed_state) {
      // Its writer frees it when it lets go, unless the writer died too.
      const bool poster_done = std::atomic_ref<std::uint32_t>(entry(i)->abandoned).load() != 0 || poster_gone(i, pid_ns);
      dead = poster_done && process_gone(pid_of(seen), std::nullopt);
    } else if (state == filling_state) {
      dead = process_gone(pid_of(seen), std::nullopt);
    } else {
      dead = poster_gone(i, pid_ns);
    }
    if (dead) c.compare_exchange_strong(seen, make_control(free_state, gen_of(seen) + 1, 0));
  }
}

// The order items are kept in: posting order, which is queue order.
bool WakeBoard::Claims::posted_before(const Item& a, const Item& b) noexcept { return a.seq < b.seq; }

void WakeBoard::Claims::claim(std::string_view name) noexcept {
  if (board_ == nullptr || !board_->joins_) return;
  const std::uint64_t h = name_hash(name);
  const std::int64_t pid = my_pid();
  const std::size_t first = items_.size();
  for (int i = 0; i < static_cast<int>(join_entries); ++i) {
    auto c = at64(board_->control(i));
    std::uint64_t seen = c.load(std::memory_order_relaxed);
    if (state_of(seen) != posted_state || at64(board_->hash(i)).load(std::memory_order_relaxed) != h) continue;
    const std::uint64_t claim = make_control(claimed_state, gen_of(seen) + 1, pid);
    if (!c.compare_exchange_strong(seen, claim, std::memory_order_acq_rel)) continue;
    const std::uint64_t restore = make_control(posted_state, gen_of(claim) + 1, pid_of(seen));
    Item item{i, claim, restore, board_->entry(i)->seq, 0};
    // Only now is the entry ours to read (FNV collisions: 2^-64).
    if (!board_->entry_is(i, name, h)) {
      board_->let_go(item);
      continue;
    }
    items_.push_back(item);
  }
  std::sort(items_.begin() + static_cast<std::ptrdiff_t>(first), items_.end(), posted_before);
}

void WakeBoard::Claims::claim_own(int index) noexcept {
  if (std::any_of(items_.begin(), items_.end(), [&](const Item& i) { return i.entry == index; })) return;
  auto c = at64(board_->control(index));
  const std::int64_t pid = my_pid();
  std::uint64_t seen = c.load();
  std::uint64_t claim;
  do {
    claim = make_control(claimed_state, gen_of(seen) + 1, pid);
  } while (!c.compare_exchange_weak(seen, claim, std::memory_order_acq_rel));
  const Item item{index, claim, make_control(posted_state, gen_of(claim) + 1, pid), board_->entry(index)->seq, 0};
  // In posting order among the rest, as claim() keeps them.
  items_.insert(std::upper_bound(items_.begin(), items_.end(), item, posted_before), item);
}

JoinRequest WakeBoard::Claims::request(const Item& item) const noexcept {
  const Entry* e = board_->entry(item.entry);
  const Strings s = strings_of(e->bytes, e->length, sizeof e->bytes);
  JoinRequest r;
  r.name = s.s[0];
  r.owner = s.s[1];
  r.host = s.s[2];
  r.pid_ns = s.s[3];
  r.boot_id = s.s[4];
  r.owner_pid = e->owner_pid;
  r.proc_pid = e->proc_pid;
  if (e->has_start) r.proc_start = e->proc_start;
  r.heartbeat_ms = e->heartbeat_ms;
  r.ttl_ms = e->ttl_ms;
  return r;
}

void WakeBoard::Claims::restart() noexcept {
  for (const Item& item : items_) board_->let_go(item);
  items_.clear();
}

std::size_t WakeBoard::Claims::commit() noexcept {
  std::size_t queued = 0;
  for (const Item& item : items_) {
    if (item.ticket == 0) {
      board_->let_go(item);
      continue;
    }
    ++queued;
    board_->settle(item, make_control(done_state, gen_of(item.control) + 1, board_->entry(item.entry)->proc_pid));
  }
  items_.clear();
  return queued;
}

void WakeBoard::let_go(const Claims::Item& item) noexcept {
  // Not committed: no row has this ticket (and none ever will).
  if (item.ticket != 0) std::atomic_ref<std::int64_t>(entry(item.entry)->ticket).store(0);
  settle(item, item.restore);
}

void WakeBoard::settle(const Claims::Item& item, std::uint64_t to) noexcept {
  auto c = at64(control(item.entry));
  std::uint64_t expected = item.control;
  // Fails only when the poster took its entry back (claim_own()). Sequentially
  // consistent, as abandon(): its flag store and this exchange are each
  // followed by a load of the other's word, so one of them sees both.
  if (!c.compare_exchange_strong(expected, to)) return;
  if (std::atomic_ref<std::uint32_t>(entry(item.entry)->abandoned).load() != 0) {
    c.compare_exchange_strong(to, make_control(free_state, gen_of(to) + 1, 0));
  }
}

}  // namespace baton::sqlite::detail
