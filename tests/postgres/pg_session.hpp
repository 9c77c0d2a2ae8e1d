// Plain libpq access for the PostgreSQL tests, beside baton's own: the test
// server's DSN, a manager on it, one-off queries and a session of our own.
#pragma once

#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <cstdlib>
#include <string>
#include <utility>

#include "baton/lock_manager.hpp"
#include "baton/postgres.hpp"

namespace baton::test {

inline std::string dsn() { return std::getenv("BATON_TEST_PG_DSN"); }

inline baton::LockManager manager(std::string conn = dsn()) {
  baton::postgres::Options o;
  o.dsn = std::move(conn);
  return baton::LockManager(baton::postgres::make_backend(o));
}

// A plain libpq session of our own, for what baton would never do (take a
// key by hand, stop between a grant and its commit) and for the locks that
// run on a caller's connection. Its calls may be made from any one thread
// at a time. Not copyable.
struct PlainSession {
  explicit PlainSession(const std::string& conninfo = dsn()) : conn(PQconnectdb(conninfo.c_str())) {}
  ~PlainSession() { PQfinish(conn); }
  PlainSession(const PlainSession&) = delete;
  PlainSession& operator=(const PlainSession&) = delete;
  bool ok() const { return PQstatus(conn) == CONNECTION_OK; }
  bool exec(const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(r);
    PQclear(r);
    return status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
  }
  // The first value of `sql`'s result; "ERROR ..." when it failed.
  std::string value(const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(r);
    std::string out = status == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) out = std::string("ERROR ") + PQresultErrorMessage(r);
    PQclear(r);
    return out;
  }
  PGconn* conn;
};

// One value of a query run on a plain libpq connection of its own.
inline std::string query_value(const std::string& sql, const std::string& conn = dsn()) {
  PlainSession session(conn);
  REQUIRE(session.ok());
  return session.value(sql);
}

}  // namespace baton::test
