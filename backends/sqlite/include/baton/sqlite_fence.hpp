// baton/sqlite_fence.hpp: fencing enforced at the resource, for data kept in
// an SQLite database.
//
// A lock's fencing token (Lock::token()) only protects data if the data's
// store checks it: a holder that lost its lease while paused or cut off
// still believes it holds the lock, and its late write must be refused
// there, not by the lock. fence() is that check. Call it inside the write
// transaction that changes the resource, before or after the change, with
// the token of the grant the write is made under (tokens are ordered per lock
// name: fence one resource with the tokens of one lock name):
//
//   sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
//   try {
//     baton::sqlite::fence(db, "accounts/42", lock.token());
//     ... the write, on `db` ...
//     sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
//   } catch (...) {
//     sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
//     throw;
//   }
//
// The database keeps, in a table `baton_fences(resource TEXT PRIMARY KEY,
// token INTEGER)` created on first use, the highest token admitted per
// resource. A write whose token is at least that one is admitted and its
// token recorded; a lower one raises StaleToken. Check and record are one
// upsert statement, and SQLite runs one write transaction at a time per
// database, so two writers never both pass with tokens out of order: a
// write committed under token t is never followed by one committed under a
// token below t. The fence table belongs in the database that holds the
// data (the user's), not in baton's lock database, so that the check
// commits or rolls back with the write.
//
// This header names no SQLite header: `sqlite3` is forward-declared, and
// the caller's own connection (from sqlite3_open_v2 or a wrapper's
// getHandle()) is passed in.
#pragma once

#include <cstdint>
#include <string_view>

struct sqlite3;

namespace baton::sqlite {

// Admits a write to `resource` under fencing token `token` on connection
// `db`, or refuses it.
//
// Precondition: `db` has an open transaction (BEGIN, preferably BEGIN
// IMMEDIATE so the write lock is taken up front); otherwise throws
// std::logic_error and touches nothing. `token` is a grant's token: not 0
// (the token of a Lock that holds nothing) and at most INT64_MAX, else
// std::invalid_argument.
//
// Returns normally when `token` is at least the highest token admitted for
// `resource` (or the resource has none yet); the token is then recorded in
// the transaction and becomes durable with its commit. Throws StaleToken
// (resource, token, highest admitted) when it is lower; nothing is written
// then, but the transaction stays open, and the caller must roll it back so
// that none of its other writes commit. Throws BackendUnavailable when the
// database is busy past the connection's busy timeout or cannot be written
// (read-only, full), BackendError for any other SQLite failure; the
// transaction stays open in each case.
//
// Blocks while the transaction waits for SQLite's write lock (the busy
// timeout the caller set on `db`; none: fails at once when busy). Runs on
// the calling thread with the caller's connection, so it may be called from
// whichever thread may use `db`.
void fence(sqlite3* db, std::string_view resource, std::uint64_t token);

}  // namespace baton::sqlite
