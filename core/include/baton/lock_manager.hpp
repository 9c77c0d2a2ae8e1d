// baton/lock_manager.hpp: the entry point: makes Locks on one backend.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "baton/backend.hpp"
#include "baton/config.hpp"
#include "baton/lock.hpp"
#include "baton/lock_info.hpp"
#include "baton/lock_set.hpp"
#include "baton/options.hpp"
#include "baton/registry.hpp"

namespace baton {

// A LockManager owns one backend and one background renewal thread (started
// on the first grant that needs it), and makes Lock instances on it.
//
// Thread-safety: every method may be called from any thread, concurrently.
// Move-only. Locks it made keep the backend and the renewal thread alive, so
// a Lock may outlive its manager.
class LockManager {
 public:
  // A manager on an existing backend object (a custom one, say).
  explicit LockManager(std::shared_ptr<Backend> backend, ManagerOptions options = {});

  // A manager made from a parsed config: looks `config.backend` up in
  // `registry` and builds it from its section. Throws ConfigError (unknown
  // backend, bad section), BackendUnavailable (cannot connect).
  static LockManager from_config(const Config& config, const Registry& registry = Registry::global());
  // Same, from a JSON document (docs/design.md §6); its "plugins" are
  // loaded into `registry`.
  static LockManager from_json(const nlohmann::json& document, Registry& registry = Registry::global());
  // Same, from a JSON file.
  static LockManager from_file(const std::filesystem::path& path, Registry& registry = Registry::global());

  LockManager(LockManager&&) noexcept;
  LockManager& operator=(LockManager&&) noexcept;
  LockManager(const LockManager&) = delete;
  LockManager& operator=(const LockManager&) = delete;
  ~LockManager();

  // A new, not yet held, Lock instance for `name`. Never blocks (may open a
  // connection). Throws InvalidName for a bad name (see baton/name.hpp),
  // including one beginning with "__baton" (reserved: see resource_lock()).
  Lock lock(std::string name, LockOptions options = {});

  // A new, not yet held, Lock on the resource of `kind` and `name`
  // (docs/design.md §1.14): the lock named "__baton/<kind>/<name>", in the
  // namespace reserved to baton, so that no lock() or lock_set() of a user
  // name can ever take it. A library guarding its own data structure (a
  // table, a queue, a list) uses it; every process that does the same with
  // the same `kind` and `name` contends for the one lock, with FIFO order,
  // lease, re-entrancy per instance and fencing tokens exactly as for
  // lock(). Lock::name() and on_lost report the full name, and
  // inspect()/clear()/list() show it under that name.
  //
  // `kind` is 1 to 64 bytes of [a-z0-9_.-] (never a '/'); `name` is any
  // non-empty byte string, slashes included, of at most
  // max_resource_name_bytes(kind) = 1015 - kind.size() bytes, so that the
  // full name fits max_name_bytes (baton/name.hpp). Throws InvalidName
  // naming the rule broken otherwise, before the backend is reached.
  //
  // Never blocks (may open a connection); the returned Lock blocks only in
  // its acquire calls, and reports contention as false, as any Lock does.
  Lock resource_lock(std::string_view kind, std::string_view name, LockOptions options = {});

  // A new, not yet held, LockSet over `names` (docs/design.md §1.13): one
  // Lock per distinct name, each made as lock(name, options) makes it, so
  // `options.on_lost` is called with the name of the member that was lost.
  // Duplicates are removed and the names kept in canonical order (sorted by
  // bytes). Never blocks (may open connections). Throws InvalidName for a
  // bad name or an empty list.
  LockSet lock_set(std::vector<std::string> names, LockOptions options = {});

  // A snapshot of `name`. Blocks for about one round trip. Throws
  // InvalidName, BackendUnavailable.
  LockInfo inspect(std::string_view name);

  // A snapshot of every held lock. Blocks for a round trip or a few.
  std::vector<LockInfo> list();

  // Frees `name` whoever holds it; waiters keep their places and the old
  // holder's release() cannot free the new grant. Returns true if a live
  // grant was removed.
  bool clear(std::string_view name);

  // The lease used by locks whose options leave ttl at zero.
  std::chrono::milliseconds default_ttl() const noexcept;

  Backend& backend() const noexcept;

 private:
  // lock() without the name check: `name` is already valid.
  Lock open_lock(std::string name, LockOptions options);

  std::shared_ptr<detail::ManagerCore> core_;
};

}  // namespace baton
