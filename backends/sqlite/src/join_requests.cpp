#include "join_requests.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "futex.hpp"
#include "host.hpp"

namespace baton::sqlite::detail {
namespace {

constexpr int entry_count = static_cast<int>(join_entry_count);

// A control word: state (8 bits), generation (24 bits), pid (32 bits).
enum : std::uint64_t { free_state = 0, filling_state = 1, posted_state = 2, claimed_state = 3, done_state = 4 };
constexpr std::uint64_t make_control(std::uint64_t state, std::uint64_t gen, std::int64_t pid) noexcept {
  return state << 56 | (gen & 0xff'ffff) << 32 | (static_cast<std::uint64_t>(pid) & 0xffff'ffff);
}
constexpr std::uint64_t state_of(std::uint64_t c) noexcept { return c >> 56; }
constexpr std::uint64_t gen_of(std::uint64_t c) noexcept { return (c >> 32) & 0xff'ffff; }
constexpr std::int64_t pid_of(std::uint64_t c) noexcept { return static_cast<std::int64_t>(c & 0xffff'ffff); }
// The same control word moved on to `state`, naming `pid`.
constexpr std::uint64_t next_control(std::uint64_t c, std::uint64_t state, std::int64_t pid) noexcept {
  return make_control(state, gen_of(c) + 1, pid);
}

std::int64_t my_pid() noexcept { return static_cast<std::int64_t>(::getpid()); }

// The strings of an entry, in JoinString order. The file is shared: a
// length is never trusted to stay inside the entry.
struct Strings {
  std::string_view s[join_string_count];
};
Strings strings_of(const JoinEntry& e) noexcept {
  Strings out;
  std::size_t at_byte = 0;
  for (int i = 0; i < join_string_count; ++i) {
    const std::size_t n = std::min<std::size_t>(e.length[i], sizeof e.bytes - at_byte);
    out.s[i] = std::string_view(e.bytes + at_byte, n);
    at_byte += n;
  }
  return out;
}

}  // namespace

JoinRequests::JoinRequests(WakeMapping* mapping) noexcept {
  if (mapping != nullptr && mapping->has_join_region()) slots_.emplace(mapping->file());
}

// ---- the poster's side --------------------------------------------------------

void JoinRequests::fill(JoinEntry& e, const JoinRequest& r) noexcept {
  atomic(e.ticket).store(0);
  e.owner_pid = r.owner_pid;
  e.proc_pid = r.proc_pid;
  e.proc_start = r.proc_start.value_or(0);
  e.has_start = r.proc_start ? 1 : 0;
  e.heartbeat_ms = r.heartbeat_ms;
  e.ttl_ms = r.ttl_ms;
  atomic(e.abandoned).store(0);
  const std::string_view parts[join_string_count] = {r.name, r.owner, r.host, r.pid_ns, r.boot_id};
  std::size_t offset = 0;
  for (int k = 0; k < join_string_count; ++k) {
    e.length[k] = static_cast<std::uint16_t>(parts[k].size());
    if (!parts[k].empty()) std::memcpy(e.bytes + offset, parts[k].data(), parts[k].size());
    offset += parts[k].size();
  }
}

std::optional<int> JoinRequests::post(const JoinRequest& r) noexcept {
  if (!slots_) return std::nullopt;
  std::size_t total = 0;
  for (auto part : {r.name, r.owner, r.host, r.pid_ns, r.boot_id}) {
    if (part.size() > 0xffff) return std::nullopt;
    total += part.size();
  }
  if (total > sizeof(JoinEntry::bytes)) return std::nullopt;
  const std::int64_t pid = my_pid();
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < entry_count; ++i) {
      auto control = slots_->control(i);
      std::uint64_t seen = control.load(std::memory_order_relaxed);
      if (state_of(seen) != free_state) continue;
      const std::uint64_t filling = next_control(seen, filling_state, pid);
      if (!control.compare_exchange_strong(seen, filling)) continue;
      fill(slots_->entry(i), r);
      slots_->name_hash(i).store(name_hash(r.name), std::memory_order_relaxed);
      // The order among requests; a writer inserts rows oldest first.
      slots_->entry(i).seq = slots_->posting_counter().fetch_add(1);
      control.store(next_control(filling, posted_state, pid), std::memory_order_release);
      return i;
    }
    reclaim(r.pid_ns);
  }
  return std::nullopt;
}

JoinProgress JoinRequests::progress(int entry) const noexcept {
  const std::uint64_t c = slots_->control(entry).load(std::memory_order_acquire);
  JoinProgress out;
  switch (state_of(c)) {
    case done_state:
      out.state = JoinState::done;
      out.ticket = ticket_of(entry);
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

bool JoinRequests::cancel(int entry) noexcept {
  auto control = slots_->control(entry);
  std::uint64_t seen = control.load();
  while (state_of(seen) == posted_state) {
    if (control.compare_exchange_weak(seen, next_control(seen, free_state, 0))) return true;
  }
  return false;
}

void JoinRequests::release(int entry) noexcept {
  atomic(slots_->entry(entry).abandoned).store(1);
  auto control = slots_->control(entry);
  std::uint64_t seen = control.load();
  // A claimed entry is freed by its writer when it lets go (it reads the
  // flag after its own compare-and-swap: one of the two sees the other).
  while (state_of(seen) != free_state && state_of(seen) != claimed_state) {
    if (control.compare_exchange_weak(seen, next_control(seen, free_state, 0))) return;
  }
}

std::uint32_t JoinRequests::wake_sequence(int entry) const noexcept {
  return atomic(slots_->wake_word(entry)).load();
}

void JoinRequests::sleep(int entry, std::uint32_t seen, std::chrono::nanoseconds timeout) const noexcept {
  futex_wait(slots_->wake_word(entry), seen, timeout);
}

void JoinRequests::wake(int entry) noexcept { bump_and_wake(slots_->wake_word(entry)); }

// ---- everyone else ------------------------------------------------------------

void JoinRequests::wake_posters_of(std::string_view name) noexcept {
  if (!slots_) return;
  const std::uint64_t h = name_hash(name);
  for (int i = 0; i < entry_count; ++i) {
    if (state_of(slots_->control(i).load(std::memory_order_relaxed)) != posted_state) continue;
    if (slots_->name_hash(i).load(std::memory_order_relaxed) == h) wake(i);
  }
}

void JoinRequests::wake_poster_queued_as(std::int64_t ticket) noexcept {
  if (!slots_) return;
  for (int i = 0; i < entry_count; ++i) {
    if (state_of(slots_->control(i).load(std::memory_order_acquire)) == done_state && ticket_of(i) == ticket) wake(i);
  }
}

std::size_t JoinRequests::count_without_row(std::string_view name, std::string_view pid_ns,
                                            std::int64_t counter) const noexcept {
  if (!slots_) return 0;
  const std::uint64_t h = name_hash(name);
  std::size_t n = 0;
  for (int i = 0; i < entry_count; ++i) {
    const std::uint64_t seen = slots_->control(i).load(std::memory_order_acquire);
    const auto state = state_of(seen);
    if (state != posted_state && state != claimed_state && state != done_state) continue;
    if (slots_->name_hash(i).load(std::memory_order_relaxed) != h) continue;
    const std::int64_t ticket = ticket_of(i);
    if (ticket != 0 && ticket <= counter) continue;  // its row is in the snapshot (or was)
    // Read without a claim: the entry may be reused meanwhile. Counted only
    // if its control word did not move while it was read.
    const bool match = holds_name(i, name, h) && !poster_gone(i, pid_ns);
    if (match && slots_->control(i).load(std::memory_order_acquire) == seen) ++n;
  }
  return n;
}

void JoinRequests::reset() noexcept {
  if (!slots_) return;
  for (int i = 0; i < entry_count; ++i) {
    slots_->control(i).store(0);
    slots_->name_hash(i).store(0);
  }
}

bool JoinRequests::holds_name(int entry, std::string_view name, std::uint64_t hash) const noexcept {
  if (slots_->name_hash(entry).load(std::memory_order_relaxed) != hash) return false;
  return strings_of(slots_->entry(entry)).s[join_name] == name;
}

bool JoinRequests::poster_gone(int entry, std::string_view pid_ns) const noexcept {
  const JoinEntry& e = slots_->entry(entry);
  if (pid_ns.empty() || strings_of(e).s[join_pid_ns] != pid_ns) return false;
  return process_gone(e.proc_pid, e.has_start ? std::optional<std::int64_t>(e.proc_start) : std::nullopt);
}

std::int64_t JoinRequests::ticket_of(int entry) const noexcept {
  return atomic(slots_->entry(entry).ticket).load(std::memory_order_acquire);
}

bool JoinRequests::entry_abandoned(int entry) const noexcept {
  return atomic(slots_->entry(entry).abandoned).load() != 0;
}

void JoinRequests::reclaim(std::string_view pid_ns) noexcept {
  for (int i = 0; i < entry_count; ++i) {
    auto control = slots_->control(i);
    std::uint64_t seen = control.load();
    const auto state = state_of(seen);
    if (state == free_state) continue;
    bool dead;
    if (state == claimed_state) {
      // Its writer frees it when it lets go, unless the writer died too.
      const bool poster_done = entry_abandoned(i) || poster_gone(i, pid_ns);
      dead = poster_done && process_gone(pid_of(seen), std::nullopt);
    } else if (state == filling_state) {
      dead = process_gone(pid_of(seen), std::nullopt);
    } else {
      dead = poster_gone(i, pid_ns);
    }
    if (dead) control.compare_exchange_strong(seen, next_control(seen, free_state, 0));
  }
}

// ---- the writer's side --------------------------------------------------------

void JoinClaims::claim_posted(std::string_view name) noexcept {
  if (requests_ == nullptr || !requests_->slots_) return;
  const JoinSlots& slots = *requests_->slots_;
  const std::uint64_t h = name_hash(name);
  const std::int64_t pid = my_pid();
  const std::size_t first = items_.size();
  for (int i = 0; i < entry_count; ++i) {
    auto control = slots.control(i);
    std::uint64_t seen = control.load(std::memory_order_relaxed);
    if (state_of(seen) != posted_state || slots.name_hash(i).load(std::memory_order_relaxed) != h) continue;
    const std::uint64_t claim = next_control(seen, claimed_state, pid);
    if (!control.compare_exchange_strong(seen, claim, std::memory_order_acq_rel)) continue;
    const Item item{i, claim, next_control(claim, posted_state, pid_of(seen)), slots.entry(i).seq, 0};
    // Only now is the entry ours to read (FNV collisions: 2^-64).
    if (!requests_->holds_name(i, name, h)) {
      let_go(item);
      continue;
    }
    items_.push_back(item);
  }
  std::sort(items_.begin() + static_cast<std::ptrdiff_t>(first), items_.end(), posted_before);
}

void JoinClaims::claim_own(int entry) noexcept {
  if (holds(entry)) return;
  const JoinSlots& slots = *requests_->slots_;
  auto control = slots.control(entry);
  const std::int64_t pid = my_pid();
  std::uint64_t seen = control.load();
  std::uint64_t claim;
  do {
    claim = next_control(seen, claimed_state, pid);
  } while (!control.compare_exchange_weak(seen, claim, std::memory_order_acq_rel));
  const Item item{entry, claim, next_control(claim, posted_state, pid), slots.entry(entry).seq, 0};
  items_.insert(std::upper_bound(items_.begin(), items_.end(), item, posted_before), item);
}

bool JoinClaims::holds(int entry) const noexcept {
  return std::any_of(items_.begin(), items_.end(), [&](const Item& i) { return i.entry == entry; });
}

JoinRequest JoinClaims::request(const Item& item) const noexcept {
  const JoinEntry& e = requests_->slots_->entry(item.entry);
  const Strings s = strings_of(e);
  JoinRequest r;
  r.name = s.s[join_name];
  r.owner = s.s[join_owner];
  r.host = s.s[join_host];
  r.pid_ns = s.s[join_pid_ns];
  r.boot_id = s.s[join_boot_id];
  r.owner_pid = e.owner_pid;
  r.proc_pid = e.proc_pid;
  if (e.has_start) r.proc_start = e.proc_start;
  r.heartbeat_ms = e.heartbeat_ms;
  r.ttl_ms = e.ttl_ms;
  return r;
}

void JoinClaims::assign(Item& item, std::int64_t ticket) noexcept {
  item.ticket = ticket;
  atomic(requests_->slots_->entry(item.entry).ticket).store(ticket, std::memory_order_release);
}

void JoinClaims::give_back() noexcept {
  for (const Item& item : items_) let_go(item);
  items_.clear();
}

std::size_t JoinClaims::commit() noexcept {
  std::size_t queued = 0;
  for (const Item& item : items_) {
    if (item.ticket == 0) {
      let_go(item);
      continue;
    }
    ++queued;
    settle(item, next_control(item.control, done_state, requests_->slots_->entry(item.entry).proc_pid));
  }
  items_.clear();
  return queued;
}

void JoinClaims::let_go(const Item& item) noexcept {
  // Not committed: no row has this ticket (and none ever will).
  if (item.ticket != 0) atomic(requests_->slots_->entry(item.entry).ticket).store(0);
  settle(item, item.restore);
}

void JoinClaims::settle(const Item& item, std::uint64_t to) noexcept {
  auto control = requests_->slots_->control(item.entry);
  std::uint64_t expected = item.control;
  // Fails only when the poster took its entry back (claim_own()).
  // Sequentially consistent, as release(): its flag store and this exchange
  // are each followed by a load of the other's word, so one of them sees
  // both.
  if (!control.compare_exchange_strong(expected, to)) return;
  if (requests_->entry_abandoned(item.entry)) control.compare_exchange_strong(to, next_control(to, free_state, 0));
}

}  // namespace baton::sqlite::detail
