// fence_holder: one holder of the classic fencing scenario, as a real
// process. Usage: fence_holder DSN LOCK_NAME SCHEMA DIR
//
// Takes LOCK_NAME (1 s lease) on the server DSN names, writes "first" to
// SCHEMA.account through baton::postgres::fence() with its token (fence
// table and function in SCHEMA), and reports the token in DIR/ready. Then
// it waits (a test SIGSTOPs it here, past its lease) for DIR/go, and writes
// "late" the same way with the same token, journalling the attempt in the
// same transaction. It reports in DIR/result "written" or "stale <token>
// <highest>" and exits 0 or 3 (2: anything else, said on stderr).
#include <libpq-fe.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "baton/postgres.hpp"
#include "baton/postgres_fence.hpp"
#include "fence_holder.hpp"

namespace fs = std::filesystem;

namespace {

void exec(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  const auto status = PQresultStatus(r);
  std::string message = PQresultErrorMessage(r);
  PQclear(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw std::runtime_error(sql + ": " + message);
}

// One fenced transaction: the account's owner becomes `who`, and the
// journal records the attempt.
void fenced_write(PGconn* conn, const std::string& schema, std::uint64_t token, const std::string& who) {
  exec(conn, "BEGIN");
  try {
    exec(conn, "INSERT INTO " + schema + ".journal(who, token) VALUES('" + who + "', " + std::to_string(token) + ")");
    baton::postgres::fence(conn, "account", token, schema);
    exec(conn, "UPDATE " + schema + ".account SET owner = '" + who + "', token = " + std::to_string(token));
    exec(conn, "COMMIT");
  } catch (...) {
    exec(conn, "ROLLBACK");
    throw;
  }
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 5) {
    std::cerr << "usage: fence_holder DSN LOCK_NAME SCHEMA DIR\n";
    return 2;
  }
  const std::string schema = argv[3];
  const fs::path dir = argv[4];
  baton::postgres::Options options;
  options.dsn = argv[1];
  baton::LockManager manager(baton::postgres::make_backend(options));
  std::unique_ptr<PGconn, decltype(&PQfinish)> owned(PQconnectdb(argv[1]), &PQfinish);
  PGconn* conn = owned.get();
  if (PQstatus(conn) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn));
  return baton::test::hold_then_write_late(manager, argv[2], dir, [&](std::uint64_t token, const std::string& who) {
    fenced_write(conn, schema, token, who);
  });
} catch (const std::exception& e) {
  std::cerr << "fence_holder: " << e.what() << "\n";
  return 2;
}
