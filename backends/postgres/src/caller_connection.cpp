#include "caller_connection.hpp"

namespace baton::postgres::detail {

std::string describe_caller(PGconn* conn) {
  const char* host = PQhost(conn);
  const char* port = PQport(conn);
  const char* db = PQdb(conn);
  return std::string("postgres ") + (host ? host : "") + ":" + (port ? port : "") + "/" + (db ? db : "");
}

Result exec_on_caller(PGconn* conn, const std::string& sql, const std::vector<std::string>& params,
                      const std::string& doing, const char* expected) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  Result r(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                        nullptr, 0));
  const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) return r;
  const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
  // No reply at all: the connection is gone.
  const std::string sqlstate = state ? state : (PQstatus(conn) == CONNECTION_BAD ? "08006" : "");
  if (expected != nullptr && sqlstate == expected) return r;
  raise_sqlstate(describe_caller(conn) + ": " + doing, sqlstate,
                 r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn));
}

}  // namespace baton::postgres::detail
