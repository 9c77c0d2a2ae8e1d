// The SQLite backend.
//
// State lives in three tables of one database file in WAL mode:
//
//   baton_meta     key -> value: "schema_version", and "boot_id", the boot
//                  of the last process that opened the file.
//   baton_waiters  one row per queued acquire, keyed by (name, ticket).
//                  `ticket` comes from the ticket counter: the queue order,
//                  and also the fencing token of the grant the waiter
//                  eventually gets.
//                  The counter only grows, whatever rows are deleted, so
//                  tokens strictly increase across names, clears and
//                  restarts. `heartbeat_deadline`: the waiter is dead after
//                  it. `ttl_ms`: the lease it asked for (-1: forever).
//   baton_holders  one row per granted name: token, owner, host, pid, wall
//                  clock acquired_at (display only), expires_at. Plus the
//                  ticket counter, a row under a reserved name (see
//                  seed_counter).
//
// Every clock value stored (expires_at, heartbeat_deadline) is CLOCK_BOOTTIME
// in ns, next to the boot id that makes it meaningful; a row of another boot
// is void. Rows also carry the writer's pid, its start time and its pid
// namespace, so a process of our boot and namespace that died (SIGKILL) is
// seen as dead at once instead of after its lease or heartbeat.
//
// Transactions: every read-then-write is one BEGIN IMMEDIATE. An uncontended
// acquire is one write transaction (see nobody live holds or waits, advance
// the ticket counter, write the holder row: one dirty page while the holders
// table fits in one), a release one write transaction. A contended acquire
// queues a waiter row in its first transaction, or, when others wait already
// (so the lock is most likely held), posts the row as a join request in the
// wake file (join_requests.hpp) and sleeps: the next write transaction on the name,
// usually the release that hands the lock on, inserts it, in posting order,
// before it looks at the queue. A lock that changes hands back to back then
// costs one write transaction per grant, not two. A release that finds a live
// waiter hands the lock over in its own transaction: the first live
// waiter's row becomes the holder row, and the waiter finds its grant with a
// read when it is woken (hand_off()). A lock freed any other way (a lease
// run out, a holder that died, clear) is taken by the first live waiter
// itself, in a write transaction that purges dead rows in front of it. A
// waiter does not write while it waits, except a heartbeat each heartbeat
// interval: it sleeps on a futex in the wake file (join_requests.hpp) that whoever
// frees the lock wakes (a hand-off also records the grant there, so the new
// holder need not read it), re-checks its place with plain reads when woken
// or when a lease or heartbeat it waits behind runs out, and only then takes
// the write lock. Without the wake file it polls `PRAGMA data_version`.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "baton/config.hpp"
#include "baton/error.hpp"
#include "baton/sqlite.hpp"
#include "connection.hpp"
#include "host.hpp"
#include "wake_board.hpp"

namespace baton::sqlite {
namespace {

using namespace std::chrono_literals;
using detail::Connection;
using detail::Identity;
using detail::Query;
using detail::Sql;
using detail::JoinClaims;
using detail::WakeBoard;

constexpr std::int64_t schema_version = 3;
constexpr std::int64_t no_ticket = std::numeric_limits<std::int64_t>::max();

// After a reboot the token counter jumps this far ahead (see open_database).
constexpr std::int64_t reboot_token_gap = std::int64_t{1} << 32;

// The head waiter re-reads the holder's row at least this often even when
// nothing was written, so a holder that died by SIGKILL (which writes
// nothing) is noticed quickly through its pid.
constexpr auto head_liveness_probe = 50ms;
// Waiters further back only need a change to move up; this is just a safety
// net.
constexpr auto queue_liveness_probe = 1s;
// With the wake board (join_requests.hpp), whoever frees a lock wakes the first live
// waiter, a hand-off also the waiter after it, so waiters sleep on their
// futex and look only when woken or as a safety net for a wake that never
// came (its sender died between commit and wake): the head as often as it
// probes the holder's pid, the others as the probe above. They do not poll
// `PRAGMA data_version` then, nor spin before they sleep: with 8 processes
// on 2 vCPUs either cost more than it saved (each data_version check takes
// the WAL read lock, two fcntl() calls; a spinning waiter takes the CPU the
// holder needs), measured at 7,500 against 12,200 grants/s.

// Options with defaults applied and the path made absolute, so every
// connection opened later (lazily, maybe after a chdir) opens the same file.
struct Settings {
  std::filesystem::path path;
  std::chrono::milliseconds busy_timeout;
  std::chrono::milliseconds heartbeat;
  std::chrono::milliseconds poll;
};

// What a backend and all its locks share. Immutable after construction.
struct Shared {
  Settings settings;
  std::shared_ptr<const Identity> identity;
  std::shared_ptr<WakeBoard> board;  // nullptr: waiters only poll

  // Whether a waiter of `name` may be queued: without the board, always.
  bool may_have_waiters(std::string_view name) const noexcept { return !board || board->may_have_waiters(name); }
  // The same, for a caller that is itself counted (inside acquire()).
  bool others_may_wait(std::string_view name) const noexcept { return !board || board->waiters(name) > 1; }

  // The board's join requests; nullptr without the board.
  detail::JoinRequests* join_requests() const noexcept { return board ? &board->join_requests() : nullptr; }

  std::unique_ptr<Connection> connect() const {
    return std::make_unique<Connection>(settings.path, identity, settings.busy_timeout, board);
  }
};

Settings settings_from(const Options& options) {
  Settings s;
  if (options.path.empty()) throw ConfigError("sqlite.path", "the database path must not be empty");
  std::error_code ec;
  s.path = std::filesystem::absolute(options.path, ec);
  if (ec) throw BackendUnavailable("sqlite: cannot resolve " + options.path.string() + ": " + ec.message());
  s.busy_timeout = options.busy_timeout > 0ms ? options.busy_timeout : 10s;
  s.heartbeat = options.heartbeat_interval > 0ms ? options.heartbeat_interval : 1s;
  s.poll = options.poll_interval > 0ms ? options.poll_interval : 2ms;
  return s;
}

// ns from a ttl, saturating: a lease too long to represent is "forever".
std::optional<std::int64_t> expiry_for(std::int64_t now, std::chrono::milliseconds ttl) {
  if (ttl == forever || ttl.count() < 0) return std::nullopt;
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  if (ttl.count() > (max - now) / 1'000'000) return std::nullopt;
  return now + ttl.count() * 1'000'000;
}

// A CLOCK_BOOTTIME instant as a steady_clock instant (both tick at the same
// rate while the machine runs).
Clock::time_point to_steady(std::int64_t boot_ns, std::int64_t now_boot_ns, Clock::time_point now) {
  auto delta = std::chrono::nanoseconds(boot_ns - now_boot_ns);
  if (delta > 24h * 365) return Clock::time_point::max();
  return now + std::chrono::duration_cast<Clock::duration>(delta);
}

std::optional<std::string> meta(Connection& conn, const char* key) {
  Query query(conn, "SELECT value FROM baton_meta WHERE key = ?1");
  query.bind_text(1, key);
  if (!query.step()) return std::nullopt;
  return query.text(0);
}

void set_meta(Connection& conn, const char* key, const std::string& value) {
  Query query(conn, "INSERT OR REPLACE INTO baton_meta(key, value) VALUES(?1, ?2)");
  query.bind_text(1, key).bind_text(2, value).run();
}

// The ticket counter: one counter for every name, so a ticket (a waiter's
// place in its queue, and the token of the grant it becomes) is never handed
// out twice. It is a row of baton_holders under the reserved name
// "__baton.ticket" (no lock can have it) rather than the AUTOINCREMENT
// counter in sqlite_sequence: that way, with the few names of most uses, the
// counter and the holder rows share one B-tree page, and an uncontended
// acquire dirties one page, not two. Tickets are inserted explicitly into
// baton_waiters, which since version 3 is one B-tree keyed by (name,
// ticket): versions 1 and 2 had a rowid table with an AUTOINCREMENT ticket
// and an index on (name, ticket), so each waiter row written or deleted
// dirtied three pages (table, index, sqlite_sequence) where it now dirties
// one, and a contended hand-off commits half the pages.

// baton_waiters' columns (version 3).
#define BATON_WAITERS_COLUMNS                                                                                  \
  "name BLOB NOT NULL, ticket INTEGER NOT NULL, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL," \
  "  proc_pid INTEGER NOT NULL, proc_start INTEGER, pid_ns TEXT NOT NULL, boot_id TEXT NOT NULL,"             \
  "  heartbeat_deadline INTEGER NOT NULL, ttl_ms INTEGER, PRIMARY KEY(name, ticket)"

bool table_exists(Connection& conn, const char* name) {
  Query q(conn, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  q.bind_text(1, name);
  return q.step();
}

// Creates the counter row if missing, above every ticket or token the file
// still shows (including version 1's sqlite_sequence counter) plus `gap`.
// Missing in a version 2 file, the row was deleted by hand, and with it the
// memory of tokens whose rows are gone too: those get the reboot gap.
void seed_counter(Connection& conn, std::int64_t gap) {
  // sqlite_sequence exists only in files that had an AUTOINCREMENT table.
  const bool sequence = table_exists(conn, "sqlite_sequence");
  Query(conn, sequence ? "INSERT INTO baton_holders(name, token, owner, host, pid, proc_pid, proc_start, pid_ns, "
                         "boot_id, acquired_at, expires_at) SELECT " BATON_TICKET_COUNTER ", max("
                         "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'baton_waiters'), 0), "
                         "coalesce((SELECT max(ticket) FROM baton_waiters), 0), "
                         "coalesce((SELECT max(token) FROM baton_holders), 0)) + ?1, '', '', 0, 0, NULL, '', '', 0, "
                         "NULL WHERE NOT EXISTS (SELECT 1 FROM baton_holders WHERE name = " BATON_TICKET_COUNTER ")"
                       : "INSERT INTO baton_holders(name, token, owner, host, pid, proc_pid, proc_start, pid_ns, "
                         "boot_id, acquired_at, expires_at) SELECT " BATON_TICKET_COUNTER ", max("
                         "coalesce((SELECT max(ticket) FROM baton_waiters), 0), "
                         "coalesce((SELECT max(token) FROM baton_holders), 0)) + ?1, '', '', 0, 0, NULL, '', '', 0, "
                         "NULL WHERE NOT EXISTS (SELECT 1 FROM baton_holders WHERE name = " BATON_TICKET_COUNTER ")")
      .bind(1, gap)
      .run();
}

// Whether baton_waiters is version 3's table (keyed by name and ticket).
bool waiters_keyed_by_name(Connection& conn) {
  return Query(conn, "SELECT 1 FROM pragma_table_info('baton_waiters') WHERE name = 'name' AND pk = 1").step();
}

// Whether baton_waiters has version 2's ttl_ms column (version 1 had not).
bool has_ttl_column(Connection& conn) {
  return Query(conn, "SELECT 1 FROM pragma_table_info('baton_waiters') WHERE name = 'ttl_ms'").step();
}

// Whether the file needs nothing from open_database() beyond its pragmas:
// this schema version complete (the ticket counter included), last opened
// in this boot. Plain reads: every process opens the file, and `baton run`
// opens it once per command, so a write transaction here would put each
// start in line for the write lock behind every running acquire and release
// (50 processes starting at once waited seconds for it).
bool database_ready(Connection& conn) {
  return conn.read([&] {
    {
      Query tables(conn,
                   "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                   "('baton_meta', 'baton_waiters', 'baton_holders')");
      if (!tables.step() || tables.int64(0) != 3) return false;
    }
    if (!has_ttl_column(conn) || !waiters_keyed_by_name(conn)) return false;
    if (meta(conn, "schema_version") != std::to_string(schema_version)) return false;
    if (meta(conn, "boot_id") != conn.identity().boot_id) return false;
    return Query(conn, Sql::read_ticket).step();
  });
}

// Creates the schema if missing and handles a reboot since the last open.
void open_database(Connection& conn, WakeBoard* board) {
  conn.run([&] {
    // Persistent in the file; a no-op once set. Needs no transaction.
    // Small pages for a new file (ignored for an existing one): rows are
    // tiny, and each commit writes (and checksums) whole pages to the WAL.
    conn.exec("PRAGMA page_size = 1024");
    Query mode(conn, "PRAGMA journal_mode = WAL");
    if (!mode.step() || mode.text(0) != "wal") {
      throw BackendError("sqlite: " + conn.path().string() +
                         " cannot be switched to WAL mode (journal_mode is '" + mode.text(0) +
                         "'; is it on a network filesystem?)");
    }
  });
  if (database_ready(conn)) return;
  conn.write([&] {
    conn.exec(
        "CREATE TABLE IF NOT EXISTS baton_meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS baton_waiters(" BATON_WAITERS_COLUMNS ") WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS baton_holders("
        "  name BLOB PRIMARY KEY, token INTEGER NOT NULL, owner TEXT NOT NULL, host TEXT NOT NULL,"
        "  pid INTEGER NOT NULL, proc_pid INTEGER NOT NULL, proc_start INTEGER, pid_ns TEXT NOT NULL,"
        "  boot_id TEXT NOT NULL, acquired_at INTEGER NOT NULL, expires_at INTEGER) WITHOUT ROWID;");
    // Version 1 had no ttl_ms (the lease a releaser hands a waiter).
    if (!has_ttl_column(conn)) {
      conn.exec("ALTER TABLE baton_waiters ADD COLUMN ttl_ms INTEGER");
    }
    auto version = meta(conn, "schema_version");
    if (version && *version != "1" && *version != "2" && *version != std::to_string(schema_version)) {
      throw BackendError("sqlite: " + conn.path().string() + " has baton schema version " + *version +
                         ", this build knows only versions 1 to " + std::to_string(schema_version));
    }
    // Version 1 kept the counter in sqlite_sequence; seed_counter() carries
    // it over (before the table that owned it goes below).
    seed_counter(conn, version && *version != "1" ? reboot_token_gap : 0);
    if (!waiters_keyed_by_name(conn)) {
      // Versions 1 and 2: rebuild baton_waiters as one B-tree. Queued rows
      // keep their tickets, so their order and tokens; dropping the old
      // table drops its index and its sqlite_sequence row.
      conn.exec(
          "ALTER TABLE baton_waiters RENAME TO baton_waiters_v2;"
          "CREATE TABLE baton_waiters(" BATON_WAITERS_COLUMNS ") WITHOUT ROWID;"
          "INSERT INTO baton_waiters(name, ticket, owner, host, pid, proc_pid, proc_start, pid_ns, boot_id, "
          "heartbeat_deadline, ttl_ms) SELECT name, ticket, owner, host, pid, proc_pid, proc_start, pid_ns, boot_id, "
          "heartbeat_deadline, ttl_ms FROM baton_waiters_v2;"
          "DROP TABLE baton_waiters_v2;");
    }
    if (version != std::to_string(schema_version)) set_meta(conn, "schema_version", std::to_string(schema_version));
    const std::string& boot = conn.identity().boot_id;
    auto last_boot = meta(conn, "boot_id");
    if (last_boot && *last_boot != boot) {
      // The first open after a reboot. With synchronous=NORMAL a power
      // failure may have dropped the last commits from the WAL, and with
      // them the counter's last increments, after their tokens had
      // already reached clients (and maybe a fenced resource). Moving the
      // counter 2^32 ahead, in this same transaction as the boot id, means
      // no token can ever be issued twice unless 4 billion grants were lost
      // at once.
      Query(conn, "UPDATE baton_holders SET token = token + ?1 WHERE name = " BATON_TICKET_COUNTER)
          .bind(1, reboot_token_gap)
          .run();
      // Rows of the old boot are void already; dropping them keeps the
      // tables small.
      Query(conn, "DELETE FROM baton_holders WHERE boot_id <> ?1 AND name <> " BATON_TICKET_COUNTER).bind_text(1, boot).run();
      Query(conn, "DELETE FROM baton_waiters WHERE boot_id <> ?1").bind_text(1, boot).run();
      // Counts left by processes of the old boot would only cost lookups.
      // Under the write lock: nobody of this boot can be queued yet.
      if (board != nullptr) board->reset();
    }
    if (!last_boot || *last_boot != boot) set_meta(conn, "boot_id", boot);
  });
}

// Inside a write transaction: the next ticket. For a grant that never
// queues, that is the whole cost of fairness: one row update on the page the
// holder row goes to.
std::int64_t take_ticket(Connection& c) {
  for (int attempt = 0;; ++attempt) {
    Query(c, Sql::next_ticket).run();
    {
      Query read(c, Sql::read_ticket);
      if (read.step()) return read.int64(0);
    }
    // Someone deleted the counter row.
    if (attempt > 0) throw BackendError("sqlite: " + c.path().string() + ": cannot recreate the ticket counter");
    seed_counter(c, reboot_token_gap);
  }
}

// Inside a write transaction: the waiter row of `r` with `ticket`, alive for
// three of its heartbeats from `now`.
void insert_waiter_row(Connection& c, const detail::JoinRequest& r, std::int64_t ticket, std::int64_t now) {
  Query(c, Sql::insert_waiter)
      .bind_blob(1, r.name)
      .bind_text(2, r.owner)
      .bind_text(3, r.host)
      .bind(4, r.owner_pid)
      .bind(5, r.proc_pid)
      .bind(6, r.proc_start)
      .bind_text(7, r.pid_ns)
      .bind_text(8, r.boot_id)
      .bind(9, now + 3 * r.heartbeat_ms * 1'000'000)
      .bind(10, ticket)
      .bind(11, r.ttl_ms)
      .run();
}

// Inside a write transaction, for the poster `owner` of join request
// `entry` on `name` that it finds no longer posted: the ticket of the row a
// writer queued for it (or of the grant a release made of that row), or,
// when there is none (a writer claimed it and rolled back; we hold the
// write lock, so no claim can still commit), 0 after claiming the entry
// itself.
std::int64_t queued_or_claim(Connection& c, JoinClaims& claims, std::string_view name, std::string_view owner,
                             int entry, std::int64_t now) {
  Query q(c, Sql::own_ticket);
  q.bind_blob(1, name).bind_text(2, owner).bind(3, now);
  if (q.step()) return q.int64(0);
  claims.claim_own(entry);
  return 0;
}

// Inside a write transaction on `name`, before it looks at the queue: queues
// every join request posted for `name` (join_requests.hpp), oldest first, so a row
// written now never overtakes a request posted before it. With `own` (the
// caller's own request, `owner` its owner), returns the caller's ticket:
// that of the row queued for it now, or by an earlier writer whose claim
// had not been settled yet; 0 without `own`.
std::int64_t absorb(const Shared& shared, Connection& c, JoinClaims& claims, std::string_view name,
                    std::int64_t now, std::optional<int> own = std::nullopt, std::string_view owner = {}) {
  if (!shared.board) return 0;
  claims.claim_posted(name);
  auto& items = claims.items();
  std::int64_t mine = 0;
  if (own && !claims.holds(*own)) {
    mine = queued_or_claim(c, claims, name, owner, *own, now);
  }
  for (auto& item : items) {
    if (item.ticket != 0) continue;
    claims.assign(item, take_ticket(c));
    insert_waiter_row(c, claims.request(item), item.ticket, now);
    if (own && item.entry == *own) mine = item.ticket;
  }
  return mine;
}

// The ticket counter as the current transaction sees it (0: no counter).
std::int64_t ticket_counter(Connection& c) {
  Query q(c, Sql::read_ticket);
  return q.step() ? q.int64(0) : 0;
}

// What one look at a name's queue found, from the point of view of one
// waiter (or of a try_acquire, which stands behind everybody).
struct Queue {
  bool granted = false;
  std::int64_t ticket = 0;  // the waiter's ticket; the token when granted
  bool holder = false;      // a live holder exists
  std::optional<std::int64_t> holder_expires;  // its expiry (boottime ns); nullopt: forever
  bool ahead = false;                          // a live waiter is in front
  std::int64_t ahead_deadline = 0;             // that waiter's heartbeat deadline
  // `PRAGMA data_version` read inside the step's write transaction, when
  // not granted: any later commit by another connection changes it, so the
  // wait cannot miss a release that happened right after the step.
  std::int64_t version = 0;
  // When a queued waiter was granted: the live waiter now first in line, to
  // be woken after the commit so it starts watching for the release (the
  // release then finds it awake, not asleep for the whole queue). 0: none.
  std::int64_t next = 0;
};

// The first live waiter of `name`, by plain reads (no purge): the one to
// wake after the lock was freed.
std::optional<std::int64_t> first_live_waiter(Connection& c, std::string_view name, std::int64_t now) {
  {
    Query first(c, Sql::first_row);
    first.bind_blob(1, name).bind(2, no_ticket).bind(3, now);
    if (!first.step()) return std::nullopt;
    if (first.int64(2) != 0) return first.int64(0);
  }
  Query ahead(c, Sql::first_ahead);
  ahead.bind_blob(1, name).bind(2, no_ticket).bind(3, now);
  if (ahead.step()) return ahead.int64(0);
  return std::nullopt;
}

// After a committed write that may have freed `name` (release, clear, a
// waiter leaving): wakes its first live waiter. When the board says nobody
// of this name waits, that is one memory load. A hint only: never throws.
void wake_first(const Shared& shared, Connection& c, std::string_view name) noexcept {
  if (!shared.board || !shared.board->may_have_waiters(name)) return;
  // Posted join requests nobody took up: their posters look for themselves.
  shared.board->join_requests().wake_posters_of(name);
  try {
    if (auto ticket = c.read([&] { return first_live_waiter(c, name, detail::boottime_ns()); })) {
      shared.board->wake(*ticket);
    }
  } catch (...) {
    // The waiter finds its turn by polling.
  }
}

// Whom hand_off() granted the lock to, and who is next in line: both to be
// woken once the transaction committed. 0: nobody.
struct HandOff {
  std::int64_t to = 0;
  std::int64_t next = 0;
  void wake(WakeBoard* board) const noexcept {
    if (board == nullptr) return;
    if (to != 0) board->record_grant_and_wake(to);
    if (next != 0) board->wake(next);
  }
};

// Inside the write transaction that freed `name`: grants it to its first
// live waiter, turning that waiter's row into the holder row. The waiter
// then finds the grant with one read, instead of noticing the release and
// taking the grant in a write transaction of its own after it: a FIFO
// hand-off costs one transaction fewer, and the waiter's wake-up is no
// longer followed by a write on the hand-off's critical path. The waiter
// after it is woken too, so it is up and watching when its turn comes.
HandOff hand_off(const Shared& shared, Connection& c, JoinClaims& claims, std::string_view name,
                 std::int64_t now) {
  HandOff h;
  if (!shared.may_have_waiters(name)) return h;
  // Requests posted since the last write queue first: the holder that just
  // released may have posted its next acquire a moment ago, and the lock
  // may go to a request if nobody else waits.
  absorb(shared, c, claims, name, now);
  auto head = first_live_waiter(c, name, now);
  if (!head) return h;
  if (Query(c, Sql::hand_off).bind(1, *head).bind(2, detail::wall_ms()).bind(3, now).bind_blob(4, name).run() != 1) {
    h.next = *head;  // not one to hand to: woken, it takes the lock itself
    return h;
  }
  Query(c, Sql::delete_waiter).bind(1, *head).bind_blob(2, name).run();
  h.to = *head;
  if (!shared.board || shared.board->waiters(name) > 1) h.next = first_live_waiter(c, name, now).value_or(0);
  return h;
}

// Prepares what release() runs, so a release does not parse SQL while it
// holds the write lock; a queued waiter does it while it waits, so the
// release that follows its grant parses nothing at all. The hand-off's
// statements only with `waiters` (some may be queued): a Lock used once and
// never contended would parse four statements it never runs (+46 us).
void prepare_release(Connection& c, bool waiters) noexcept {
  c.prepare({Sql::begin_immediate, Sql::release, Sql::commit});
  if (waiters) {
    c.prepare({Sql::first_row, Sql::first_ahead, Sql::hand_off, Sql::delete_waiter, Sql::next_ticket,
               Sql::read_ticket, Sql::insert_waiter});
  }
}

// The backend side of one Lock instance. Its connection is opened on first
// use and serves only this instance. Not copyable, not movable.
class SqliteLock final : public BackendLock {
 public:
  SqliteLock(std::shared_ptr<const Shared> shared, std::string_view name, Owner owner)
      : shared_(std::move(shared)), name_(name), owner_(std::move(owner)) {}

  std::optional<std::uint64_t> acquire(Clock::time_point deadline, std::chrono::milliseconds ttl,
                                       std::stop_token stop) override;
  std::optional<std::uint64_t> try_acquire(std::chrono::milliseconds ttl) override;
  bool renew(std::chrono::milliseconds ttl) override;
  bool release() override;

 private:
  Connection& conn() {
    if (!conn_) conn_ = shared_->connect();
    return *conn_;
  }

  // Reads (no write lock): is there a live holder, a live waiter ahead?
  Queue look(Connection& c, std::int64_t ticket, std::int64_t now, bool purge);
  // One write transaction's worth of work: purge the dead in front, join or
  // refresh our place in the queue, and take the grant if it is ours.
  // With `own`, the caller's posted join request (join_requests.hpp) is queued first
  // (or found queued), and `ticket` must be 0.
  Queue step(Connection& c, std::int64_t ticket, std::chrono::milliseconds ttl,
             Clock::time_point deadline = Clock::time_point::max(), const std::stop_token* stop = nullptr,
             std::optional<int> own = std::nullopt);
  std::int64_t insert_waiter(Connection& c, std::int64_t now, std::chrono::milliseconds ttl);
  detail::JoinRequest join_request(Connection& c, std::chrono::milliseconds ttl) const;
  // Waits, as a posted join request `entry`, until a writer queued it (or
  // until it queued itself): returns the look at the queue that follows.
  // Sets `ticket` as soon as it is known.
  Queue wait_joined(Connection& c, int entry, std::chrono::milliseconds ttl, Clock::time_point deadline,
                    const std::stop_token& stop, std::int64_t& ticket);
  // Takes a join request back: returns the ticket of the row a writer
  // queued for it meanwhile (0: none; none will be). Frees the entry.
  std::int64_t withdraw(Connection& c, int entry);
  void grant(Connection& c, std::int64_t ticket, std::int64_t now, std::chrono::milliseconds ttl);
  void leave(Connection& c, std::int64_t ticket);

  std::shared_ptr<const Shared> shared_;
  std::string name_;
  Owner owner_;
  std::unique_ptr<Connection> conn_;
  std::int64_t token_ = 0;
};

// Reads the holder row and the first waiter row ahead of `ticket`, judging
// their liveness as it goes. Dead rows are deleted only when `purge` (inside
// a write transaction); the common case, no row at all or live ones, costs
// two index lookups and no write.
Queue SqliteLock::look(Connection& c, std::int64_t ticket, std::int64_t now, bool purge) {
  Queue q;
  q.ticket = ticket;
  bool dead_holder = false;
  {
    Query holder(c, Sql::holder_row);
    holder.bind_blob(1, name_).bind(2, now);
    if (holder.step()) {
      q.holder = holder.int64(1) != 0;
      dead_holder = !q.holder;
      q.holder_expires = holder.optional_int64(0);
      // Our releaser made our waiter row the holder row (hand_off()).
      q.granted = q.holder && ticket != no_ticket && holder.int64(2) == ticket && holder.text(3) == owner_.id;
    }
  }
  if (q.granted) return q;
  // Only for tidiness: a grant replaces a dead holder row anyway.
  if (dead_holder && purge) Query(c, Sql::purge_holder).bind_blob(1, name_).bind(2, now).run();
  bool dead_ahead = false;
  {
    Query first(c, Sql::first_row);
    first.bind_blob(1, name_).bind(2, ticket).bind(3, now);
    if (first.step()) {
      q.ahead = first.int64(2) != 0;
      dead_ahead = !q.ahead;
      q.ahead_deadline = first.int64(1);
    }
  }
  if (dead_ahead) {
    // The first waiter in front is dead (killed, or its heartbeat stopped):
    // drop it and every dead one behind it up to the first live one.
    if (purge) Query(c, Sql::purge_ahead).bind_blob(1, name_).bind(2, ticket).bind(3, now).run();
    Query ahead(c, Sql::first_ahead);
    ahead.bind_blob(1, name_).bind(2, ticket).bind(3, now);
    if (ahead.step()) {
      q.ahead = true;
      q.ahead_deadline = ahead.int64(1);
    }
  }
  return q;
}

Queue SqliteLock::step(Connection& c, std::int64_t ticket, std::chrono::milliseconds ttl,
                       Clock::time_point deadline, const std::stop_token* stop, std::optional<int> own) {
  JoinClaims claims(shared_->join_requests());
  Queue out = c.write(
      [&] {
    claims.give_back();  // a retry claims afresh
    auto now = detail::boottime_ns();
    auto heartbeat_deadline = now + 3 * shared_->settings.heartbeat.count() * 1'000'000;
    std::int64_t mine = ticket;
    // Requests are posted only by counted waiters, and we are counted
    // ourselves: with nobody else counted there is nothing to absorb (an
    // uncontended acquire skips the scan of the board).
    if (own || shared_->others_may_wait(name_)) {
      const auto queued = absorb(*shared_, c, claims, name_, now, own, owner_.id);
      if (own) mine = queued;
    }
    Queue q = look(c, mine != 0 ? mine : no_ticket, now, true);
    if (q.granted) return q;  // handed to us by its releaser
    // Our row is gone only if we stalled past three heartbeats and someone
    // pruned us: queue again at the back rather than hold a stale place.
    if (mine != 0 && Query(c, Sql::beat).bind(1, mine).bind(2, heartbeat_deadline).bind_blob(3, name_).run() == 0) {
      mine = 0;
      q = look(c, no_ticket, now, true);
    }
    const bool ours = !q.holder && !q.ahead;
    if (ours) {
      // Uncontended (or our turn): the ticket becomes the token and the
      // waiter row, if we had one, goes.
      if (mine == 0) {
        mine = take_ticket(c);
      } else {
        Query(c, Sql::delete_waiter).bind(1, mine).bind_blob(2, name_).run();
        // More than us counted: someone may be behind us.
        if (auto* board = shared_->board.get(); board && board->waiters(name_) > 1) {
          q.next = first_live_waiter(c, name_, now).value_or(0);
        }
      }
      grant(c, mine, now, ttl);
      q.granted = true;
    } else if (mine == 0) {
      mine = insert_waiter(c, now, ttl);
    }
    if (!ours) q.version = c.data_version();
    q.ticket = mine;
    return q;
  },
      deadline, stop);
  // Requests queued ahead of us while the lock is free: their first is to
  // take it, and nobody else will wake it.
  if (claims.commit() != 0 && !out.granted && !out.holder) wake_first(*shared_, c, name_);
  return out;
}

// Queues this owner: a waiter row alive for three heartbeats from `now`.
// Returns its ticket.
std::int64_t SqliteLock::insert_waiter(Connection& c, std::int64_t now, std::chrono::milliseconds ttl) {
  const auto ticket = take_ticket(c);
  insert_waiter_row(c, join_request(c, ttl), ticket, now);
  return ticket;
}

// This owner's waiter row, as a join request (join_requests.hpp) or for itself.
detail::JoinRequest SqliteLock::join_request(Connection& c, std::chrono::milliseconds ttl) const {
  const auto self = detail::self_process();
  detail::JoinRequest r;
  r.name = name_;
  r.owner = owner_.id;
  r.host = owner_.host;
  r.pid_ns = c.identity().pid_ns;
  r.boot_id = c.identity().boot_id;
  r.owner_pid = owner_.pid;
  r.proc_pid = self.pid;
  r.proc_start = self.start;
  r.heartbeat_ms = shared_->settings.heartbeat.count();
  // The lease a releaser gives us when it hands us the lock; -1 (also for a
  // lease so long it would overflow) is forever.
  r.ttl_ms = expiry_for(0, ttl) ? ttl.count() : std::int64_t{-1};
  return r;
}

// Inside a write transaction: the holder row for a grant with `ticket` as
// its token.
void SqliteLock::grant(Connection& c, std::int64_t ticket, std::int64_t now, std::chrono::milliseconds ttl) {
  auto self = detail::self_process();
  Query(c, Sql::insert_holder)
      .bind_blob(1, name_)
      .bind(2, ticket)
      .bind_text(3, owner_.id)
      .bind_text(4, owner_.host)
      .bind(5, owner_.pid)
      .bind(6, self.pid)
      .bind(7, self.start)
      .bind_text(8, c.identity().pid_ns)
      .bind_text(9, c.identity().boot_id)
      .bind(10, detail::wall_ms())
      .bind(11, expiry_for(now, ttl))
      .run();
}

void SqliteLock::leave(Connection& c, std::int64_t ticket) {
  HandOff h;
  JoinClaims claims(shared_->join_requests());
  const bool handed = c.write([&] {
    claims.give_back();
    Query(c, Sql::delete_waiter).bind(1, ticket).bind_blob(2, name_).run();
    // Our releaser may have handed us the lock after all: pass it on.
    if (Query(c, Sql::drop_holder).bind_blob(1, name_).bind(2, ticket).bind_text(3, owner_.id).run() == 0) return false;
    h = hand_off(*shared_, c, claims, name_, detail::boottime_ns());
    return true;
  });
  claims.commit();
  if (handed) {
    h.wake(shared_->board.get());
  } else {
    // We may have been next: the one behind us is now.
    wake_first(*shared_, c, name_);
  }
}

namespace {
// Sleeps until `until`, waking at least every 5 ms to look at `stop`.
void nap_until(Clock::time_point until, const std::stop_token& stop) {
  for (;;) {
    auto now = Clock::now();
    if (now >= until || stop.stop_requested()) return;
    std::this_thread::sleep_for(std::min<Clock::duration>(until - now, 5ms));
  }
}
}  // namespace

std::optional<std::uint64_t> SqliteLock::acquire(Clock::time_point deadline, std::chrono::milliseconds ttl,
                                                 std::stop_token stop) {
  Connection& c = conn();
  const auto& settings = shared_->settings;
  // The head waiter only waits for the holder: poll fast so the hand-off is
  // quick. Others wait for a change that takes at least one hand-off.
  WakeBoard* board = shared_->board.get();
  const Clock::duration head_poll =
      board ? Clock::duration(head_liveness_probe) : std::clamp<Clock::duration>(settings.poll / 4, 250us, 1ms);
  const Clock::duration queue_poll = board ? Clock::duration(queue_liveness_probe) : Clock::duration(settings.poll);

  // Counted before the first step: a release committed after it sees the
  // count and looks for us (wake_board.hpp).
  detail::CountedWaiter counted(board, name_);
  // A stop request wakes our futex; read from the requesting thread.
  std::atomic<std::int64_t> sleeping_on{0};
  std::atomic<int> joined_on{-1};
  std::stop_callback on_stop(stop, [&] {
    if (auto t = sleeping_on.load(); board && t != 0) board->wake(t);
    if (auto e = joined_on.load(); board && e >= 0) board->join_requests().wake(e);
  });

  std::int64_t ticket = 0;
  // Our posted join request (join_requests.hpp), until we know our ticket.
  int joined = -1;
  try {
    Queue q;
    // Others wait already: the lock is most likely held, and whoever
    // releases it can queue us in the same write transaction. Otherwise (or
    // when the request cannot be posted) queue ourselves.
    if (board && board->waiters(name_) > 1) joined = board->join_requests().post(join_request(c, ttl)).value_or(-1);
    if (joined >= 0) {
      joined_on = joined;
      q = wait_joined(c, joined, ttl, deadline, stop, ticket);
      joined_on = -1;
      board->join_requests().release(joined);
      joined = -1;
    } else {
      // A busy database may hold this up to the deadline; the step is then
      // interrupted before it commits, with nothing to undo.
      q = step(c, 0, ttl, deadline, &stop);
    }
    ticket = q.ticket;
    auto version = q.version;
    if (q.granted) {
      token_ = ticket;
      if (q.next != 0) board->wake(q.next);
      return static_cast<std::uint64_t>(ticket);
    }
    // Queued: the wait is idle time, and the grant's read, the heartbeat and
    // the release after the grant all run statements not prepared yet.
    prepare_release(c, true);
    c.prepare({Sql::begin_read, Sql::beat});
    auto next_beat = Clock::now() + settings.heartbeat;
    for (;;) {
      // When to look again even if nothing is written: the holder's lease or
      // the heartbeat of the waiter in front may run out, or a holder may
      // die without a word (the pid probe).
      auto now = Clock::now();
      auto now_boot = detail::boottime_ns();
      auto recheck = now + (q.ahead ? queue_liveness_probe : head_liveness_probe);
      if (q.holder && q.holder_expires) recheck = std::min(recheck, to_steady(*q.holder_expires, now_boot, now));
      if (q.ahead) recheck = std::min(recheck, to_steady(q.ahead_deadline, now_boot, now));
      const auto poll = q.ahead ? queue_poll : head_poll;

      sleeping_on = ticket;
      for (;;) {
        now = Clock::now();
        if (now >= deadline || stop.stop_requested()) throw detail::Interrupted{};
        if (now >= next_beat || now >= recheck) break;
        // The sequence before the check: a wake sent after it ends the sleep.
        const std::uint32_t seen = board ? board->wake_sequence(ticket) : 0;
        if (board) {
          if (board->granted(ticket)) break;
        } else {
          auto changed = c.run([&] { return c.data_version(); }, deadline, &stop);
          if (changed != version) {
            version = changed;
            break;
          }
        }
        const auto until = std::min({now + poll, recheck, next_beat, deadline});
        if (board) {
          if (stop.stop_requested()) continue;
          // Woken (or a collision in the board), it goes straight to the
          // reads below, which tell what changed.
          board->sleep(ticket, seen, until - now);
          if (board->wake_sequence(ticket) != seen) break;
        } else {
          nap_until(until, stop);
        }
      }
      // A wake-up breaks out without a look at the clock, and may come long
      // after it was sent (this process stopped): a waiter past its deadline
      // gives up, even when the lock was handed to it meanwhile (leave()
      // passes it on).
      now = Clock::now();
      if (now >= deadline || stop.stop_requested()) throw detail::Interrupted{};
      // Our releaser made the grant and said so (WakeBoard::record_grant_and_wake()):
      // no read needed, which on a lock that changes hands back to back is
      // one read transaction fewer per grant.
      if (board && board->granted(ticket)) {
        token_ = ticket;
        return static_cast<std::uint64_t>(ticket);
      }

      if (now >= next_beat) {
        // The heartbeat is a full step: it also takes a grant that is due.
        q = step(c, ticket, ttl, deadline, &stop);
        version = q.version;
        next_beat = Clock::now() + settings.heartbeat;
      } else {
        // Reads first: most changes (others' heartbeats, queue growth) do
        // not make us the next holder, and reads take no write lock.
        q = c.read(
            [&] {
              Queue r = look(c, ticket, detail::boottime_ns(), false);
              r.version = c.data_version();  // of the snapshot just read
              return r;
            },
            deadline, &stop);
        version = q.version;
        if (!q.granted && !q.holder && !q.ahead) {
          q = step(c, ticket, ttl, deadline, &stop);
          version = q.version;
        }
      }
      ticket = q.ticket;
      if (q.granted) {
        token_ = ticket;
        if (q.next != 0) board->wake(q.next);
        return static_cast<std::uint64_t>(ticket);
      }
    }
  } catch (const detail::Interrupted&) {
    // Leave no trace, so nobody waits behind a waiter that gave up.
    if (joined >= 0) ticket = withdraw(c, joined);
    if (ticket != 0) leave(c, ticket);
    return std::nullopt;
  } catch (...) {
    if (joined >= 0) {
      try {
        ticket = withdraw(c, joined);
      } catch (...) {
        // Freed all the same; a row written for it meanwhile is pruned by
        // its heartbeat deadline.
        board->join_requests().release(joined);
      }
    }
    if (ticket != 0) {
      try {
        leave(c, ticket);
      } catch (...) {
        // The heartbeat deadline will prune the row.
      }
    }
    throw;
  }
}

Queue SqliteLock::wait_joined(Connection& c, int entry, std::chrono::milliseconds ttl, Clock::time_point deadline,
                              const std::stop_token& stop, std::int64_t& ticket) {
  WakeBoard& board = *shared_->board;
  // Queued by a writer. Where we stand is not read here: we are woken (by
  // ticket, WakeBoard::wake()) when we are next or granted, and a read now
  // would be one more read transaction per contended grant (it cost a third
  // of the 8-process rate). Until the first look we act as the head behind
  // a holder: granted() is checked before any sleep, and a look follows the
  // first wake-up or the head's probe period.
  auto placed = [&](std::int64_t t) {
    ticket = t;
    Queue q;
    q.ticket = t;
    q.holder = true;
    return q;
  };
  bool look_now = true;
  // Nobody took the request up by then (a holder that keeps the lock long,
  // or a writer that died): we queue ourselves.
  auto give_up_at = Clock::now() + head_liveness_probe;
  for (;;) {
    const std::uint32_t seen = board.join_requests().wake_sequence(entry);
    const auto state = board.join_requests().progress(entry);
    if (state.state == detail::JoinState::done) return placed(state.ticket);
    auto now = Clock::now();
    if (now >= deadline || stop.stop_requested()) throw detail::Interrupted{};
    if (state.state == detail::JoinState::claimed) {
      // A writer is queueing us; it settles within its transaction's time.
      if (state.claimer_gone) return step(c, 0, ttl, deadline, &stop, entry);
      board.join_requests().sleep(entry, seen, std::min<Clock::duration>(1ms, deadline - now));
      continue;
    }
    if (look_now) {
      // Posted: is there a holder to release the lock (and queue us)?
      look_now = false;
      Queue r = c.read([&] { return look(c, no_ticket, detail::boottime_ns(), false); }, deadline, &stop);
      if (!r.holder && !r.ahead) return step(c, 0, ttl, deadline, &stop, entry);
      if (r.holder && r.holder_expires) {
        give_up_at = std::min(give_up_at, to_steady(*r.holder_expires, detail::boottime_ns(), Clock::now()));
      }
    }
    now = Clock::now();
    if (now >= give_up_at) return step(c, 0, ttl, deadline, &stop, entry);
    board.join_requests().sleep(entry, seen, std::min(give_up_at, deadline) - now);
    if (board.join_requests().wake_sequence(entry) != seen) look_now = true;
  }
}

std::int64_t SqliteLock::withdraw(Connection& c, int entry) {
  WakeBoard& board = *shared_->board;
  if (board.join_requests().cancel(entry)) return 0;
  // Claimed or queued already: once we hold the write lock no claim is in
  // flight, so the database says whether a row was written for us; if none
  // was, we claim the request ourselves, and abandon() below frees it.
  JoinClaims claims(&board.join_requests());
  const auto ticket = c.write([&] {
    claims.give_back();
    return queued_or_claim(c, claims, name_, owner_.id, entry, detail::boottime_ns());
  });
  board.join_requests().release(entry);
  claims.give_back();
  return ticket;
}

std::optional<std::uint64_t> SqliteLock::try_acquire(std::chrono::milliseconds ttl) {
  Connection& c = conn();
  JoinClaims claims(shared_->join_requests());
  auto token = c.write([&]() -> std::int64_t {
    claims.give_back();
    auto now = detail::boottime_ns();
    // A posted join request is a waiter ahead of us: queue it, so it counts.
    if (shared_->may_have_waiters(name_)) absorb(*shared_, c, claims, name_, now);
    Queue q = look(c, no_ticket, now, true);
    if (q.holder || q.ahead) return 0;
    // The token comes from the same counter as every waiter's ticket.
    auto ticket = take_ticket(c);
    grant(c, ticket, now, ttl);
    return ticket;
  });
  // Requests queued by us stand before a free lock: wake their first.
  if (claims.commit() != 0 && token == 0) wake_first(*shared_, c, name_);
  if (token == 0) return std::nullopt;
  token_ = token;
  return static_cast<std::uint64_t>(token);
}

bool SqliteLock::renew(std::chrono::milliseconds ttl) {
  Connection& c = conn();
  return c.run([&] {
    auto now = detail::boottime_ns();
    return Query(c, Sql::renew)
               .bind_blob(1, name_)
               .bind(2, token_)
               .bind_text(3, owner_.id)
               .bind(4, expiry_for(now, ttl))
               .bind_text(5, c.identity().boot_id)
               .bind(6, now)
               .run() == 1;
  });
}

bool SqliteLock::release() {
  Connection& c = conn();
  prepare_release(c, shared_->may_have_waiters(name_));
  HandOff h;
  JoinClaims claims(shared_->join_requests());
  bool live = c.write([&] {
    claims.give_back();
    const auto now = detail::boottime_ns();
    if (Query(c, Sql::release)
            .bind_blob(1, name_)
            .bind(2, token_)
            .bind_text(3, owner_.id)
            .bind_text(4, c.identity().boot_id)
            .bind(5, now)
            .run() == 1) {
      h = hand_off(*shared_, c, claims, name_, now);
      return true;
    }
    // Gone, or expired but still there: the latter (nobody has taken the
    // lock since, or the row would be theirs) is ours to tidy away. The
    // token and owner make sure no newer grant is touched.
    Query(c, Sql::drop_holder).bind_blob(1, name_).bind(2, token_).bind_text(3, owner_.id).run();
    return false;
  });
  claims.commit();
  token_ = 0;
  if (live) {
    h.wake(shared_->board.get());
    // A request posted while this transaction ran was not taken up: its
    // poster looks at the queue again (it saw us holding).
    if (auto* board = shared_->board.get(); board && board->may_have_waiters(name_)) board->join_requests().wake_posters_of(name_);
  } else {
    // Not ours to hand on: whoever is first finds the lock free, if it is.
    wake_first(*shared_, c, name_);
  }
  return live;
}

// The store. Its own connection serves inspect/list/clear, one call at a
// time (guarded by mu_). Not copyable, not movable (held by shared_ptr).
class SqliteBackend final : public Backend {
 public:
  explicit SqliteBackend(std::shared_ptr<const Shared> shared) : shared_(std::move(shared)), conn_(shared_->connect()) {
    open_database(*conn_, shared_->board.get());
  }

  std::string_view kind() const noexcept override { return "sqlite"; }

  std::unique_ptr<BackendLock> open(std::string_view name, const Owner& owner) override {
    return std::make_unique<SqliteLock>(shared_, name, owner);
  }

  LockInfo inspect(std::string_view name) override;
  std::vector<LockInfo> list() override;
  bool clear(std::string_view name) override;

 private:
  static LockInfo holder_info(const Query& q, int first_column, std::int64_t now);

  // `body` (which counts waiters: rows, then posted join requests) in one
  // read transaction. A request whose row was committed after the snapshot
  // and whose poster freed its entry before the look at the board is in
  // neither count: when anything was committed meanwhile, counts again (up
  // to 8 times, so a busy lock cannot hold inspect up).
  template <class F>
  auto counted_read(F&& body) {
    Connection& c = *conn_;
    for (int attempt = 1;; ++attempt) {
      std::int64_t version = 0;
      auto result = c.read([&] {
        auto r = body();
        version = c.data_version();  // of the snapshot just read
        return r;
      });
      if (!shared_->board || attempt == 8 || c.run([&] { return c.data_version(); }) == version) return result;
    }
  }

  std::shared_ptr<const Shared> shared_;
  std::mutex mu_;
  std::unique_ptr<Connection> conn_;
};

// Columns from first_column on: token, owner, host, pid, acquired_at, expires_at.
LockInfo SqliteBackend::holder_info(const Query& q, int first_column, std::int64_t now) {
  LockInfo info;
  info.held = true;
  info.token = static_cast<std::uint64_t>(q.int64(first_column));
  info.owner = q.text(first_column + 1);
  info.host = q.text(first_column + 2);
  info.pid = q.int64(first_column + 3);
  info.acquired_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(q.int64(first_column + 4)));
  if (auto expires = q.optional_int64(first_column + 5)) {
    info.expires_in = std::chrono::milliseconds(std::max<std::int64_t>(0, (*expires - now) / 1'000'000));
  } else {
    info.expires_in = forever;
  }
  return info;
}

LockInfo SqliteBackend::inspect(std::string_view name) {
  std::lock_guard lock(mu_);
  Connection& c = *conn_;
  // One read transaction: the holder and the count from one snapshot.
  return counted_read([&] {
    auto now = detail::boottime_ns();
    LockInfo info;
    {
      Query holder(c, Sql::inspect_holder);
      holder.bind_blob(1, name).bind(2, now);
      if (holder.step()) info = holder_info(holder, 0, now);
    }
    info.name = std::string(name);
    {
      Query count(c, Sql::count_waiters);
      count.bind_blob(1, name).bind(2, now);
      if (count.step()) info.waiters = static_cast<std::size_t>(count.int64(0));
    }
    // Posted join requests are waiters whose row this snapshot lacks.
    if (shared_->board) info.waiters += shared_->board->join_requests().count_without_row(name, c.identity().pid_ns, ticket_counter(c));
    return info;
  });
}

std::vector<LockInfo> SqliteBackend::list() {
  std::lock_guard lock(mu_);
  Connection& c = *conn_;
  return counted_read([&] {
    std::vector<LockInfo> out;
    auto now = detail::boottime_ns();
    const auto counter = ticket_counter(c);
    Query q(c, Sql::list_holders);
    q.bind(1, now);
    while (q.step()) {
      LockInfo info = holder_info(q, 1, now);
      info.name = q.blob(0);
      info.waiters = static_cast<std::size_t>(q.int64(7));
      if (shared_->board) info.waiters += shared_->board->join_requests().count_without_row(info.name, c.identity().pid_ns, counter);
      out.push_back(std::move(info));
    }
    return out;
  });
}

bool SqliteBackend::clear(std::string_view name) {
  std::lock_guard lock(mu_);
  Connection& c = *conn_;
  const bool cleared = c.run([&] {
    Query q(c, Sql::clear);
    q.bind_blob(1, name).bind(2, detail::boottime_ns());
    bool was_live = false;
    while (q.step()) was_live = q.int64(0) != 0;
    return was_live;
  });
  wake_first(*shared_, c, name);
  return cleared;
}

}  // namespace

std::shared_ptr<Backend> make_backend(const Options& options) {
  auto shared = std::make_shared<Shared>();
  shared->settings = settings_from(options);
  auto identity = std::make_shared<Identity>();
  identity->boot_id = options.boot_id.empty() ? detail::read_boot_id() : options.boot_id;
  identity->pid_ns = detail::read_pid_namespace();
  shared->identity = std::move(identity);
  shared->board = WakeBoard::open(shared->settings.path);
  return std::make_shared<SqliteBackend>(std::move(shared));
}

Options options_from_config(const nlohmann::json& section) {
  ConfigSection config(section, "sqlite");
  Options options;
  if (auto path = config.string("path")) {
    if (path->empty()) throw ConfigError(config.path("path"), "must not be empty");
    options.path = *path;
  }
  if (auto v = config.milliseconds("busy_timeout_ms", 0ms, 24h)) options.busy_timeout = *v;
  if (auto v = config.milliseconds("heartbeat_ms", 0ms, 1h)) options.heartbeat_interval = *v;
  if (auto v = config.milliseconds("poll_ms", 0ms, 10s)) options.poll_interval = *v;
  config.finish();
  return options;
}

void register_backend(Registry& registry) {
  registry.add("sqlite", [](const nlohmann::json& section) { return make_backend(options_from_config(section)); });
}

}  // namespace baton::sqlite
