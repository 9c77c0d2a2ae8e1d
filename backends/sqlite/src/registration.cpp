// The public entry points: make_backend() and register_backend().
#include <filesystem>
#include <memory>
#include <utility>

#include "baton/kit/defaults.hpp"
#include "baton/kit/registration.hpp"
#include "baton/sqlite.hpp"
#include "host.hpp"
#include "settings.hpp"
#include "sqlite_backend.hpp"
#include "wake_board.hpp"

namespace baton::sqlite {
namespace {

// Idle connections a backend keeps for its next Locks: enough for a pool of
// worker threads that each make a Lock per task; each costs a few file
// descriptors and the page cache SQLite keeps per connection.
constexpr std::size_t idle_connections_kept = 64;

}  // namespace

std::shared_ptr<Backend> make_backend(const Options& options) {
  auto shared = std::make_shared<detail::SharedState>();
  shared->settings = detail::settings_from(options);
  auto identity = std::make_shared<detail::Identity>();
  identity->boot_id = options.boot_id.empty() ? detail::read_boot_id() : options.boot_id;
  identity->pid_ns = detail::read_pid_namespace();
  shared->identity = std::move(identity);
  shared->board = detail::WakeBoard::open(shared->settings.path);
  shared->gate = detail::WriteGate::for_database(shared->settings.path);
  shared->pool = std::make_shared<detail::ConnectionPool>(idle_connections_kept);
  return std::make_shared<detail::SqliteBackend>(std::move(shared));
}

namespace {

// A dead waiter leaves the queue once its heartbeat deadline (three
// intervals, docs/design.md §3.4) has passed: at least two intervals after
// it stopped, at most about three after it died. The suite keeps a head
// stopped for a third of the bound, so five intervals keep both promises.
BackendTraits traits(const Options& options, const nlohmann::json& section) {
  BackendTraits t;
  t.dead_waiter_bound = 5 * kit::or_default(options.heartbeat_interval, kit::default_heartbeat_interval);
  t.unreachable_section = section;
  t.unreachable_section["path"] = (options.path.parent_path() / "no-such-directory" / "baton.db").string();
  return t;
}

}  // namespace

void register_backend(Registry& registry) {
  // The keys options_from_config() reads (docs/design.md §6.3).
  kit::register_backend<Options>(
      registry, "sqlite", &options_from_config, &make_backend,
      {{"path", "database file, created if missing; a local disk only (default \"baton.db\")"},
       {"busy_timeout_ms", "how long a call waits while no write transaction ends, 0 to 86400000 (default 10000)"},
       {"heartbeat_ms", "how often a queued waiter refreshes its heartbeat, 0 to 3600000 (default 1000)"},
       {"poll_ms", "longest sleep between polls when the wake file cannot be used (default 2)"}},
      &traits);
}

}  // namespace baton::sqlite
