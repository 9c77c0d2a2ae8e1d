// The etcd backend's side of one Lock instance (docs/design.md §8.2): the
// classic etcd queue of keys in create-revision order, each waiter watching
// only its predecessor, with the holder's lease as the grant's lease.
#include <cstdio>
#include <optional>
#include <thread>
#include <utility>

#include <baton/error.hpp>

#include "store.hpp"
#include "watch.hpp"

namespace baton::etcd {

namespace {

using std::chrono::milliseconds;

// How often a queued waiter renews its waiter lease and the lease it will
// hold with.
constexpr milliseconds waiter_beat{500};
// The pause before a watch stream that ended on its own is opened again.
constexpr milliseconds retry_pause{20};

std::string hex16(std::int64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

nlohmann::json compare_created(const std::string& key, std::int64_t revision) {
  return {{"target", "CREATE"}, {"result", "EQUAL"}, {"key", base64(key)}, {"create_revision", std::to_string(revision)}};
}

nlohmann::json put(const std::string& key, const std::string& value, std::int64_t lease) {
  return {{"request_put", {{"key", base64(key)}, {"value", value}, {"lease", std::to_string(lease)}}}};
}

// One queued attempt: the key, its create revision (the ticket), and the
// two leases while it waits (`waiter` holds the key, `lease` is the one it
// will hold with, kept alive meanwhile; 0 once gone).
struct Attempt {
  std::string key;
  std::int64_t ticket = 0;
  std::int64_t lease = 0;
  std::int64_t waiter = 0;
  std::vector<Entry> queue;
  std::int64_t read_revision = 0;
};

enum class Turn { granted, gave_up, dropped };

class EtcdLock final : public BackendLock {
 public:
  EtcdLock(std::shared_ptr<Store> store, std::string_view name, Owner owner)
      : store_(std::move(store)), dir_(name_dir(store_->prefix(), name)), owner_(std::move(owner)) {}

  std::optional<std::uint64_t> acquire(Clock::time_point deadline, milliseconds ttl, std::stop_token stop) override;
  std::optional<std::uint64_t> try_acquire(milliseconds ttl) override;
  bool renew(milliseconds ttl) override;
  bool release() override;

 private:
  std::optional<Attempt> enqueue(milliseconds ttl);
  Turn wait_turn(Attempt& a, milliseconds ttl, Clock::time_point deadline, const std::stop_token& stop);
  bool move_key(const std::string& key, std::int64_t ticket, std::int64_t lease, milliseconds ttl);
  std::uint64_t hold(std::string key, std::int64_t ticket, std::int64_t lease, milliseconds ttl);

  const std::shared_ptr<Store> store_;
  const std::string dir_;
  const Owner owner_;
  // The current grant; lease_ 0 when none.
  std::string key_;
  std::int64_t token_ = 0;
  std::int64_t lease_ = 0;
  milliseconds ttl_{0};
};

std::uint64_t EtcdLock::hold(std::string key, std::int64_t ticket, std::int64_t lease, milliseconds ttl) {
  key_ = std::move(key);
  token_ = ticket;
  lease_ = lease;
  ttl_ = ttl;
  return static_cast<std::uint64_t>(ticket);
}

// Puts the attempt's key under a new lease of `ttl`, in one transaction: if
// the lock is free (no key under the name) it is granted; otherwise the key
// joins the queue and the transaction also reads the queue. nullopt when
// granted at once (the grant is recorded).
std::optional<Attempt> EtcdLock::enqueue(milliseconds ttl) {
  Attempt a;
  a.lease = store_->grant(ttl, "acquire");
  a.key = dir_ + hex16(a.lease);
  try {
    auto range = prefix_range(dir_);
    range["sort_order"] = "ASCEND";
    range["sort_target"] = "CREATE";
    auto free = prefix_range(dir_);
    free.update({{"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}});
    const auto value = entry_value(owner_, ttl);
    const nlohmann::json txn{{"compare", {free}},
                             {"success", {put(a.key, value, a.lease)}},
                             {"failure", {put(a.key, value, a.lease), {{"request_range", range}}}}};
    const auto reply = store_->client().call("/v3/kv/txn", txn, "acquire");
    const auto revision = int_field(reply.value("header", nlohmann::json::object()), "revision");
    if (reply.value("succeeded", false)) {
      hold(a.key, revision, a.lease, ttl);
      return std::nullopt;
    }
    // The ticket is the key's create revision as read back: a request
    // repeated on another member finds the key it made before, and keeps
    // its place.
    a.read_revision = revision;
    a.queue = entries_of(reply["responses"].at(1)["response_range"]);
    for (const auto& e : a.queue) {
      if (e.key == a.key) a.ticket = e.create_revision;
    }
    return a;
  } catch (...) {
    store_->revoke_quietly(a.lease);
    throw;
  }
}

// Moves the key created at `ticket` to `lease` (its create revision, the
// ticket, stays); false when the key is gone.
bool EtcdLock::move_key(const std::string& key, std::int64_t ticket, std::int64_t lease, milliseconds ttl) {
  const nlohmann::json txn{{"compare", {compare_created(key, ticket)}},
                           {"success", {put(key, entry_value(owner_, ttl), lease)}}};
  return store_->client().call("/v3/kv/txn", txn, "move").value("succeeded", false);
}

// Waits, watching only the predecessor's key, until the attempt's key is
// the lowest (granted: it is moved to the holding lease), the deadline or a
// stop (gave up: the key is gone), or the key vanished (dropped: its waiter
// lease ended while this thread could not renew it).
Turn EtcdLock::wait_turn(Attempt& a, milliseconds ttl, Clock::time_point deadline, const std::stop_token& stop) {
  bool lease_alive = true;
  bool key_alive = true;
  const bool finite = ttl != baton::forever;
  const auto beat = [&] {
    key_alive = store_->keep_alive(a.waiter, "wait");
    if (finite && lease_alive) lease_alive = store_->keep_alive(a.lease, "wait");
    return key_alive;
  };
  for (;;) {
    const Entry* before = nullptr;
    bool present = false;
    for (const auto& e : a.queue) {
      if (e.create_revision < a.ticket) before = &e;
      if (e.create_revision == a.ticket && e.key == a.key) present = true;
    }
    if (!present || !key_alive) return Turn::dropped;
    if (before == nullptr) break;
    const auto end = wait_for_delete(store_->client(), before->key, a.read_revision + 1, deadline, stop, waiter_beat, beat);
    if (end == WatchEnd::deadline || end == WatchEnd::stopped) return Turn::gave_up;
    // A stream that ended without the deletion is opened again after a pause,
    // never in a tight loop.
    if (end == WatchEnd::ended) std::this_thread::sleep_for(retry_pause);
    a.queue = store_->queue(dir_, &a.read_revision);
  }
  if (!lease_alive || (finite && !store_->keep_alive(a.lease, "acquire"))) {
    store_->revoke_quietly(a.lease);
    a.lease = 0;
    a.lease = store_->grant(ttl, "acquire");
  }
  if (!move_key(a.key, a.ticket, a.lease, ttl)) return Turn::dropped;
  // The waiter lease has no key left; it ends by its TTL.
  a.waiter = 0;
  return Turn::granted;
}

std::optional<std::uint64_t> EtcdLock::acquire(Clock::time_point deadline, milliseconds ttl, std::stop_token stop) {
  for (;;) {
    auto a = enqueue(ttl);
    if (!a) return static_cast<std::uint64_t>(token_);
    Turn turn;
    try {
      a->waiter = store_->grant(store_->waiter_ttl(), "acquire");
      if (a->ticket == 0 || !move_key(a->key, a->ticket, a->waiter, ttl)) {
        turn = Turn::dropped;
      } else {
        turn = wait_turn(*a, ttl, deadline, stop);
      }
    } catch (...) {
      if (a->waiter != 0) store_->revoke_quietly(a->waiter);
      if (a->lease != 0) store_->revoke_quietly(a->lease);
      throw;
    }
    if (turn == Turn::granted) return hold(a->key, a->ticket, a->lease, ttl);
    // Revoking the leases deletes the key: the waiter behind sees it go.
    if (a->waiter != 0) store_->revoke_quietly(a->waiter);
    store_->revoke_quietly(a->lease);
    if (turn == Turn::gave_up || Clock::now() >= deadline || stop.stop_requested()) return std::nullopt;
  }
}

std::optional<std::uint64_t> EtcdLock::try_acquire(milliseconds ttl) {
  const auto lease = store_->grant(ttl, "try_acquire");
  const std::string key = dir_ + hex16(lease);
  try {
    auto free = prefix_range(dir_);
    free.update({{"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}});
    const nlohmann::json txn{{"compare", {free}}, {"success", {put(key, entry_value(owner_, ttl), lease)}}};
    const auto reply = store_->client().call("/v3/kv/txn", txn, "try_acquire");
    if (reply.value("succeeded", false)) {
      return hold(key, int_field(reply.value("header", nlohmann::json::object()), "revision"), lease, ttl);
    }
  } catch (...) {
    store_->revoke_quietly(lease);
    throw;
  }
  store_->revoke_quietly(lease);
  return std::nullopt;
}

// The same lease length: a keep-alive. Another: the key moves to a new
// lease of that length, only if it is still the grant's key.
bool EtcdLock::renew(milliseconds ttl) {
  if (ttl == ttl_ || lease_seconds(ttl) == lease_seconds(ttl_)) {
    ttl_ = ttl;
    if (ttl != baton::forever) return store_->keep_alive(lease_, "renew");
    std::int64_t revision = 0;
    for (const auto& e : store_->queue(dir_, &revision)) {
      if (e.key == key_) return e.create_revision == token_;
    }
    return false;
  }
  const auto lease = store_->grant(ttl, "renew");
  bool moved = false;
  try {
    moved = move_key(key_, token_, lease, ttl);
  } catch (...) {
    store_->revoke_quietly(lease);
    throw;
  }
  if (!moved) {
    store_->revoke_quietly(lease);
    return false;
  }
  store_->revoke_quietly(lease_);
  lease_ = lease;
  ttl_ = ttl;
  return true;
}

// Revoking the grant's lease deletes its key; a lease already gone (expired,
// or revoked by clear()) means the grant was lost, and nothing else is
// touched.
bool EtcdLock::release() {
  const auto lease = std::exchange(lease_, 0);
  return store_->revoke(lease, "release");
}

}  // namespace

std::unique_ptr<BackendLock> make_lock(std::shared_ptr<Store> store, std::string_view name, const Owner& owner) {
  return std::make_unique<EtcdLock>(std::move(store), name, owner);
}

}  // namespace baton::etcd
