// Statements on a caller's own libpq connection, for the calls that work
// inside the caller's transaction (fence(), TransactionLock, SessionLock):
// one PQexecParams each, failures through raise_sqlstate(), the backend's
// one translation of libpq's errors.
#pragma once

#include <libpq-fe.h>

#include <string>
#include <vector>

#include "connection.hpp"

namespace baton::postgres::detail {

// "postgres host:port/db" for messages; never the password.
std::string describe_caller(PGconn* conn);

// Runs `sql` with text parameters and returns the result of a success. A
// failure whose SQLSTATE is `expected` (if given) is returned too, for the
// caller to handle; any other raises BackendUnavailable or BackendError
// naming `doing`.
Result exec_on_caller(PGconn* conn, const std::string& sql, const std::vector<std::string>& params,
                      const std::string& doing, const char* expected = nullptr);

}  // namespace baton::postgres::detail
