// The etcd backend's side of one Lock instance (docs/design.md §8.2): the
// classic etcd queue of keys in create-revision order, each waiter watching
// only its predecessor, with the holder's lease as the grant's lease.
#include <cstdio>
#include <future>
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
};

enum class Turn { granted, gave_up, dropped };

class EtcdLock final : public BackendLock {
 public:
  EtcdLock(std::shared_ptr<Store> store, std::string_view name, Owner owner)
      : store_(std::move(store)), dir_(name_dir(store_->prefix(), name)), owner_(std::move(owner)) {}
  // Called without a grant held; ends the kept lease (quietly: it ends by
  // its TTL anyway).
  ~EtcdLock() override {
    if (idle_lease_ != 0) store_->revoke_quietly(idle_lease_);
  }

  std::optional<std::uint64_t> acquire(Clock::time_point deadline, milliseconds ttl, std::stop_token stop) override;
  std::optional<std::uint64_t> try_acquire(milliseconds ttl) override;
  bool renew(milliseconds ttl) override;
  bool release() override;

 private:
  nlohmann::json enqueue_txn(const Attempt& a, milliseconds ttl) const;
  std::optional<Attempt> enqueue(milliseconds ttl);
  Turn wait_turn(Attempt& a, milliseconds ttl, Clock::time_point deadline, const std::stop_token& stop);
  std::optional<Turn> take_turn(Attempt& a, milliseconds ttl, bool& lease_alive);
  bool move_key(const std::string& key, std::int64_t ticket, std::int64_t lease, milliseconds ttl);
  std::uint64_t hold(std::string key, std::int64_t ticket, std::int64_t lease, milliseconds ttl);
  std::int64_t take_lease(milliseconds ttl, std::string_view what);
  void keep_lease(std::int64_t lease, milliseconds ttl);

  const std::shared_ptr<Store> store_;
  const std::string dir_;
  const Owner owner_;
  // The current grant; lease_ 0 when none.
  std::string key_;
  std::int64_t token_ = 0;
  std::int64_t lease_ = 0;
  milliseconds ttl_{0};
  // A lease with no key, kept from the last grant or attempt for the next
  // one (0: none), and its length in seconds.
  std::int64_t idle_lease_ = 0;
  std::int64_t idle_seconds_ = 0;
};

// A lease of `ttl` for a new attempt: the kept one when it has that length
// and a keep-alive renews it to its full TTL (no write to the cluster's
// log), else a new grant.
std::int64_t EtcdLock::take_lease(milliseconds ttl, std::string_view what) {
  const auto kept = std::exchange(idle_lease_, 0);
  if (kept != 0 && idle_seconds_ == lease_seconds(ttl) && store_->keep_alive(kept, what)) return kept;
  if (kept != 0) store_->revoke_quietly(kept);
  return store_->grant(ttl, what);
}

// Keeps `lease`, which holds no key, for the next attempt. A lease of
// baton::forever is never kept: nothing would end it.
void EtcdLock::keep_lease(std::int64_t lease, milliseconds ttl) {
  if (ttl == baton::forever) {
    store_->revoke_quietly(lease);
    return;
  }
  if (idle_lease_ != 0) store_->revoke_quietly(idle_lease_);
  idle_lease_ = lease;
  idle_seconds_ = lease_seconds(ttl);
}

std::uint64_t EtcdLock::hold(std::string key, std::int64_t ticket, std::int64_t lease, milliseconds ttl) {
  key_ = std::move(key);
  token_ = ticket;
  lease_ = lease;
  ttl_ = ttl;
  return static_cast<std::uint64_t>(ticket);
}

// The enqueue transaction: if the lock is free (no key under the name), put
// the attempt's key: granted. Otherwise put it and read the queue.
nlohmann::json EtcdLock::enqueue_txn(const Attempt& a, milliseconds ttl) const {
  auto range = prefix_range(dir_);
  range["sort_order"] = "ASCEND";
  range["sort_target"] = "CREATE";
  auto free = prefix_range(dir_);
  free.update({{"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}});
  const auto value = entry_value(owner_, ttl);
  return {{"compare", {free}},
          {"success", {put(a.key, value, a.lease)}},
          {"failure", {put(a.key, value, a.lease), {{"request_range", range}}}}};
}

// Puts the attempt's key under a lease of `ttl` in one transaction
// (enqueue_txn). The lease kept from the last attempt is renewed by a
// keep-alive sent beside the transaction, on another connection, so reusing
// it costs no extra round trip; if the keep-alive finds it gone, the attempt
// is undone (revoking that lease deletes the key) and made again with a new
// lease. nullopt when granted at once (the grant is recorded).
std::optional<Attempt> EtcdLock::enqueue(milliseconds ttl) {
  for (bool fresh = false;; fresh = true) {
    Attempt a;
    std::future<bool> renewed;
    if (idle_lease_ != 0 && idle_seconds_ == lease_seconds(ttl)) {
      a.lease = std::exchange(idle_lease_, 0);
      renewed = std::async(std::launch::async,
                           [store = store_, lease = a.lease] { return store->keep_alive(lease, "acquire"); });
    } else {
      a.lease = take_lease(ttl, "acquire");
    }
    a.key = dir_ + hex16(a.lease);
    std::optional<nlohmann::json> reply;
    try {
      reply = store_->client().call_lease("/v3/kv/txn", enqueue_txn(a, ttl), "acquire");
      if (renewed.valid() && !renewed.get()) reply.reset();
    } catch (...) {
      store_->revoke_quietly(a.lease);
      throw;
    }
    if (!reply) {
      store_->revoke_quietly(a.lease);
      if (fresh) throw BackendError("etcd: acquire: a lease just granted is not found");
      continue;
    }
    const auto revision = int_field(reply->value("header", nlohmann::json::object()), "revision");
    if (reply->value("succeeded", false)) {
      hold(a.key, revision, a.lease, ttl);
      return std::nullopt;
    }
    // The ticket is the key's create revision as read back: a request
    // repeated on another member finds the key it made before, and keeps
    // its place.
    a.queue = entries_of((*reply)["responses"].at(1)["response_range"]);
    for (const auto& e : a.queue) {
      if (e.key == a.key) a.ticket = e.create_revision;
    }
    return a;
  }
}

// Moves the key created at `ticket` to `lease` (its create revision, the
// ticket, stays); false when the key is gone.
bool EtcdLock::move_key(const std::string& key, std::int64_t ticket, std::int64_t lease, milliseconds ttl) {
  const nlohmann::json txn{{"compare", {compare_created(key, ticket)}},
                           {"success", {put(key, entry_value(owner_, ttl), lease)}}};
  return store_->client().call("/v3/kv/txn", txn, "move").value("succeeded", false);
}

// One transaction: if no key of the name is older than the attempt's, move
// the attempt's key to the grant's lease (granted); otherwise read the queue
// into `a.queue` (nullopt) or find the key gone (dropped). The grant's
// lease is renewed by a keep-alive sent beside it; one found gone is
// replaced by a new lease, by a second move.
std::optional<Turn> EtcdLock::take_turn(Attempt& a, milliseconds ttl, bool& lease_alive) {
  const bool finite = ttl != baton::forever;
  std::future<bool> renewed;
  if (!lease_alive) {
    store_->revoke_quietly(a.lease);
    a.lease = 0;
    a.lease = store_->grant(ttl, "acquire");
    lease_alive = true;
  } else if (finite) {
    renewed = std::async(std::launch::async,
                         [store = store_, lease = a.lease] { return store->keep_alive(lease, "acquire"); });
  }
  auto first = prefix_range(dir_);
  first.update({{"target", "CREATE"}, {"result", "GREATER"}, {"create_revision", std::to_string(a.ticket - 1)}});
  auto range = prefix_range(dir_);
  range["sort_order"] = "ASCEND";
  range["sort_target"] = "CREATE";
  const nlohmann::json txn{{"compare", {first, compare_created(a.key, a.ticket)}},
                           {"success", {put(a.key, entry_value(owner_, ttl), a.lease)}},
                           {"failure", {{{"request_range", range}}}}};
  auto reply = store_->client().call_lease("/v3/kv/txn", txn, "acquire");
  if (renewed.valid() && !renewed.get()) {
    lease_alive = false;
    if (!reply || !reply->value("succeeded", false)) return std::nullopt;
    // Granted on a lease that ended: move the key to a new one at once.
    store_->revoke_quietly(a.lease);  // deletes the key if it got there first
    a.lease = 0;
    a.lease = store_->grant(ttl, "acquire");
    if (!move_key(a.key, a.ticket, a.lease, ttl)) return Turn::dropped;
  } else if (!reply) {
    throw BackendError("etcd: acquire: a live lease is not found");
  } else if (!reply->value("succeeded", false)) {
    a.queue = entries_of((*reply)["responses"].at(0)["response_range"]);
    return std::nullopt;
  }
  a.waiter = 0;  // the waiter lease has no key left; it ends by its TTL
  return Turn::granted;
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
    if (before != nullptr) {
      // Gone: no key of that name, or a newer one (a Lock instance reuses
      // its lease, and so its key's name, for its next attempt).
      const auto gone = [&, key = before->key, created = before->create_revision] {
        const auto reply = store_->client().call("/v3/kv/range", {{"key", base64(key)}, {"keys_only", true}}, "wait");
        const auto found = entries_of(reply);
        return found.empty() || found.front().create_revision != created;
      };
      const auto end = wait_for_delete(store_->client(), before->key, deadline, stop, waiter_beat, beat, gone);
      if (end == WatchEnd::deadline || end == WatchEnd::stopped) return Turn::gave_up;
      // A stream that ended without the deletion is opened again after a
      // pause, never in a tight loop.
      if (end == WatchEnd::ended) std::this_thread::sleep_for(retry_pause);
    }
    if (const auto turn = take_turn(a, ttl, lease_alive)) return *turn;
  }
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
    // Revoking the waiter lease deletes the key: the waiter behind sees it
    // go. The other lease has no key then, and is kept for the next
    // attempt, unless the key's fate is unknown.
    bool key_gone = a->ticket != 0;
    if (a->waiter != 0) {
      try {
        store_->revoke(a->waiter, "acquire");
      } catch (const Error&) {  // the waiter lease ends by its TTL
        key_gone = false;
      }
    }
    if (key_gone) {
      keep_lease(a->lease, ttl);
    } else {
      store_->revoke_quietly(a->lease);
    }
    if (turn == Turn::gave_up || Clock::now() >= deadline || stop.stop_requested()) return std::nullopt;
  }
}

std::optional<std::uint64_t> EtcdLock::try_acquire(milliseconds ttl) {
  const auto lease = take_lease(ttl, "try_acquire");
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
  keep_lease(lease, ttl);  // nothing was written
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

// Deletes the grant's key if it is still the grant's (its create revision
// is the token), and keeps the lease for the next grant. A key already gone
// (its lease expired, or clear() revoked it) means the grant was lost, and
// nothing else is touched. A forever lease is revoked, deleting the key.
bool EtcdLock::release() {
  const auto lease = std::exchange(lease_, 0);
  if (ttl_ == baton::forever) return store_->revoke(lease, "release");
  const nlohmann::json txn{{"compare", {compare_created(key_, token_)}},
                           {"success", {{{"request_delete_range", {{"key", base64(key_)}}}}}}};
  if (!store_->client().call("/v3/kv/txn", txn, "release").value("succeeded", false)) return false;
  keep_lease(lease, ttl_);
  return true;
}

}  // namespace

std::unique_ptr<BackendLock> make_lock(std::shared_ptr<Store> store, std::string_view name, const Owner& owner) {
  return std::make_unique<EtcdLock>(std::move(store), name, owner);
}

}  // namespace baton::etcd
