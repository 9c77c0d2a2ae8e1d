#include "ticket_counter.hpp"

#include "baton/error.hpp"

namespace baton::sqlite::detail {
namespace {

bool table_exists(Connection& conn, const char* table) {
  return Query(conn, Statement::table_exists).bind_text(Param::table, table).step();
}

}  // namespace

void seed_ticket_counter(Connection& conn, std::int64_t gap) {
  // sqlite_sequence exists only in files that had an AUTOINCREMENT table.
  const bool v1_sequence = table_exists(conn, "sqlite_sequence");
  Query(conn, v1_sequence ? Statement::seed_ticket_counter_from_v1 : Statement::seed_ticket_counter)
      .bind(Param::gap, gap)
      .run();
}

void advance_ticket_counter(Connection& conn, std::int64_t gap) {
  Query(conn, Statement::advance_ticket_counter_by).bind(Param::gap, gap).run();
}

std::int64_t take_ticket(Connection& conn) {
  for (int attempt = 0;; ++attempt) {
    Query(conn, Statement::next_ticket).run();
    {
      Query read(conn, Statement::read_ticket);
      if (read.step()) return read.int64(0);
    }
    // Someone deleted the counter row, and with it the memory of tokens
    // whose rows are gone too: those get the reboot gap.
    if (attempt > 0) throw BackendError("sqlite: " + conn.path().string() + ": cannot recreate the ticket counter");
    seed_ticket_counter(conn, reboot_token_gap);
  }
}

std::int64_t read_ticket_counter(Connection& conn) {
  Query q(conn, Statement::read_ticket);
  return q.step() ? q.int64(0) : 0;
}

bool ticket_counter_exists(Connection& conn) { return Query(conn, Statement::read_ticket).step(); }

}  // namespace baton::sqlite::detail
