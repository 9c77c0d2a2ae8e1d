// fence.cpp: baton::postgres::fence() and install_fence(), the check of a
// fencing token at the resource, on the caller's own connection and inside
// its transaction, and the SQL function that does the check in the server.
#include "baton/postgres_fence.hpp"

#include <libpq-fe.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "baton/error.hpp"
#include "baton/postgres.hpp"
#include "caller_connection.hpp"
#include "connection.hpp"
#include "sql.hpp"

namespace baton::postgres {
namespace {

using detail::quote_ident;
using detail::Result;
using detail::exec_on_caller;

// The SQLSTATE baton_fence() raises for a stale token; its DETAIL is the
// highest admitted token.
constexpr const char* stale_sqlstate = "BF001";
// The dollar-quote tag of the function body; a schema name may not hold it.
constexpr const char* body_tag = "$baton_fence$";

// The function: check and record in one upsert. In READ COMMITTED the
// upsert locks the resource's row (waiting for a transaction that holds it)
// and evaluates its WHERE on the latest committed version, so it admits
// only a token at least the highest committed one, and holds the row until
// this transaction ends.
std::string function_sql(const std::string& schema) {
  const std::string t = schema + ".baton_fences";
  return "CREATE OR REPLACE FUNCTION " + schema +
         ".baton_fence(fence_resource text, fence_token bigint) RETURNS void LANGUAGE plpgsql AS " + body_tag +
         " DECLARE highest bigint; BEGIN"
         " IF fence_resource IS NULL OR fence_token IS NULL OR fence_token < 1 THEN"
         " RAISE EXCEPTION 'baton: a fence needs a resource and a token of at least 1' USING ERRCODE = '22023';"
         " END IF;"
         " INSERT INTO " + t + " AS f (resource, token) VALUES (fence_resource, fence_token)"
         " ON CONFLICT (resource) DO UPDATE SET token = EXCLUDED.token WHERE EXCLUDED.token >= f.token;"
         " IF NOT FOUND THEN"
         " SELECT f.token INTO highest FROM " + t + " AS f WHERE f.resource = fence_resource;"
         " RAISE EXCEPTION 'baton: stale fencing token % for resource %: % already admitted',"
         " fence_token, quote_literal(fence_resource), highest USING ERRCODE = '" + stale_sqlstate +
         "', DETAIL = highest::text;"
         " END IF; END " + body_tag;
}

// Creates schema, table and function inside the open transaction, after
// taking a transaction-scoped advisory lock that makes concurrent installs
// run one after the other (concurrent CREATE ... IF NOT EXISTS and CREATE
// OR REPLACE FUNCTION can otherwise fail on the catalog's unique indexes).
void install_in_transaction(PGconn* conn, const std::string& schema) {
  const std::string s = quote_ident(schema);
  const std::string key = std::to_string(advisory_key("__baton.fence-install"));
  // The caller's client_min_messages comes back afterwards; meanwhile the
  // "already exists, skipping" notices of a lost race stay off its screen.
  auto saved = exec_on_caller(conn,
                    "SELECT current_setting('client_min_messages'), pg_advisory_xact_lock(" + key +
                        "), set_config('client_min_messages', 'warning', true)",
                    {}, "install fence");
  const std::string level = PQgetvalue(saved.get(), 0, 0);
  exec_on_caller(conn, "CREATE SCHEMA IF NOT EXISTS " + s, {}, "install fence");
  exec_on_caller(conn, "CREATE TABLE IF NOT EXISTS " + s + ".baton_fences (resource text PRIMARY KEY, token bigint NOT NULL)",
       {}, "install fence");
  exec_on_caller(conn, function_sql(s), {}, "install fence");
  exec_on_caller(conn, "SELECT set_config('client_min_messages', $1, true)", {level}, "install fence");
}

bool installed(PGconn* conn, const std::string& schema) {
  auto r = exec_on_caller(conn, "SELECT to_regprocedure($1) IS NOT NULL", {quote_ident(schema) + ".baton_fence(text,bigint)"},
                "fence");
  return PQntuples(r.get()) == 1 && std::string(PQgetvalue(r.get(), 0, 0)) == "t";
}

void check_schema(std::string_view schema) {
  if (schema.empty()) throw std::invalid_argument("baton::postgres: empty fence schema");
  if (schema.find(body_tag) != std::string_view::npos || schema.find('\0') != std::string_view::npos)
    throw std::invalid_argument("baton::postgres: fence schema name not supported");
}

void check_fence_arguments(PGconn* conn, std::string_view resource, std::uint64_t token, std::string_view schema) {
  if (conn == nullptr) throw std::invalid_argument("baton::postgres::fence: null connection");
  if (token == 0) throw std::invalid_argument("baton::postgres::fence: token 0 is no grant's token");
  if (token > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    throw std::invalid_argument("baton::postgres::fence: token above INT64_MAX");
  if (resource.find('\0') != std::string_view::npos)
    throw std::invalid_argument("baton::postgres::fence: resource holds a NUL byte");
  check_schema(schema);
  if (PQtransactionStatus(conn) != PQTRANS_INTRANS)
    throw std::logic_error(
        "baton::postgres::fence: the connection is not idle in an open transaction (BEGIN first; a failed "
        "transaction needs ROLLBACK)");
}

}  // namespace

void fence(PGconn* conn, std::string_view resource, std::uint64_t token, std::string_view schema) {
  check_fence_arguments(conn, resource, token, schema);
  const std::string s(schema);
  if (!installed(conn, s)) install_in_transaction(conn, s);
  auto r = exec_on_caller(conn, "SELECT " + quote_ident(s) + ".baton_fence($1, $2)", {std::string(resource), std::to_string(token)},
                "fence", stale_sqlstate);
  if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) return;
  const char* detail = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_DETAIL);
  throw StaleToken(std::string(resource), token, detail ? std::stoull(detail) : 0);
}

void install_fence(PGconn* conn, std::string_view schema) {
  if (conn == nullptr) throw std::invalid_argument("baton::postgres::install_fence: null connection");
  check_schema(schema);
  const std::string s(schema);
  const auto status = PQtransactionStatus(conn);
  if (status == PQTRANS_INTRANS) return install_in_transaction(conn, s);
  if (status != PQTRANS_IDLE)
    throw std::logic_error("baton::postgres::install_fence: the connection is busy or its transaction failed");
  exec_on_caller(conn, "BEGIN", {}, "install fence");
  try {
    install_in_transaction(conn, s);
    exec_on_caller(conn, "COMMIT", {}, "install fence");
  } catch (...) {
    Result(PQexec(conn, "ROLLBACK"));
    throw;
  }
}

}  // namespace baton::postgres
