// baton/postgres_fence.hpp: fencing enforced at the resource, for data kept
// in a PostgreSQL database.
//
// A lock's fencing token (Lock::token()) only protects data if the data's
// store checks it: a holder that lost its lease while paused or cut off
// still believes it holds the lock, and its late write must be refused
// there. fence() is that check. Call it inside the write transaction that
// changes the resource, with the token of the grant the write is made
// under (tokens are ordered per lock name: fence one resource with the
// tokens of one lock name):
//
//   PQexec(conn, "BEGIN");
//   baton::postgres::fence(conn, "accounts/42", lock.token());  // may throw StaleToken
//   PQexec(conn, "UPDATE accounts SET balance = balance - 10 WHERE id = 42");
//   PQexec(conn, "COMMIT");
//
// The check is also an SQL function, so code in any language can call it in
// its own transaction:
//
//   SELECT baton.baton_fence('accounts/42', 17);
//
// It raises SQLSTATE BF001 ("baton: stale fencing token ...", DETAIL the
// highest admitted token) when the token is stale; fence() turns that into
// StaleToken. Either way the error aborts the transaction, so the server
// itself rolls back everything it did: a COMMIT after it is a ROLLBACK.
//
// Stored: `<schema>.baton_fences(resource text PRIMARY KEY, token bigint)`,
// the highest token admitted per resource, and the function
// `<schema>.baton_fence(text, bigint)`, in the schema of baton's lock table
// (Options::schema, "baton" by default) of the database `conn` is on (the
// data's database, which need not be the lock store's). install_fence()
// creates them; fence() creates them too when they are missing, inside the
// caller's transaction, under a transaction-scoped advisory lock so that
// first uses racing each other do not fail. A role that may not create
// them needs install_fence() run once by one that may, and INSERT, UPDATE
// and SELECT on the table, EXECUTE on the function, USAGE on the schema.
//
// This header names no libpq header: `PGconn` is forward-declared, and the
// caller's own connection is passed in (blocking mode, not in a pipeline).
#pragma once

#include <cstdint>
#include <string_view>

struct pg_conn;
typedef struct pg_conn PGconn;

namespace baton::postgres {

// Admits a write to `resource` under fencing token `token` on connection
// `conn`, or refuses it.
//
// Precondition: `conn` is idle inside an open transaction (PQtransactionStatus
// is PQTRANS_INTRANS); otherwise throws std::logic_error and sends nothing.
// `token` is a grant's token: not 0 and at most INT64_MAX, else
// std::invalid_argument.
//
// Returns normally when `token` is at least the highest token admitted for
// `resource` (or the resource has none yet); the token is then recorded and
// becomes durable with the transaction's commit. Throws StaleToken
// (resource, token, highest) when it is lower; the transaction is then
// aborted by the server, and only a ROLLBACK ends it. Throws
// BackendUnavailable when the connection fails, BackendError for any other
// server error (a serialization failure under REPEATABLE READ or
// SERIALIZABLE among them: retry the transaction), through the backend's
// one SQLSTATE translation.
//
// Blocks for one or two round trips (a third and the table's creation on
// first use), and for as long as another open transaction has fenced the
// same resource: fences of one resource serialize on its row, each waiting
// for the previous one's COMMIT or ROLLBACK. May be called from whichever
// thread may use `conn`.
void fence(PGconn* conn, std::string_view resource, std::uint64_t token, std::string_view schema = "baton");

// Creates `<schema>`, its baton_fences table and its baton_fence() function
// where missing (the function is replaced, so an upgrade installs the
// current one). Inside the caller's transaction if one is open (then it
// commits with it), else in a transaction of its own. Safe to run
// concurrently with other installs and with fence(). Throws BackendError
// (without the privilege to create them, say), BackendUnavailable, or
// std::logic_error when `conn` is null, busy or in a failed transaction.
// Blocks for a few round trips. May be called from whichever thread may
// use `conn`.
void install_fence(PGconn* conn, std::string_view schema = "baton");

}  // namespace baton::postgres
