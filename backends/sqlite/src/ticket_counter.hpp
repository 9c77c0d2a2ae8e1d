// ticket_counter.hpp: the one counter every name's tickets come from
// (docs/design.md §3.2).
//
// A ticket is a waiter's place in its queue and the fencing token of the
// grant it becomes. The counter only grows, whatever rows are deleted, so a
// ticket is never handed out twice. It is a row of baton_holders under the
// reserved name "__baton.ticket" (statements.cpp) rather than an
// AUTOINCREMENT counter: with the few names of most uses, the counter and
// the holder rows share one B-tree page, so an uncontended acquire dirties
// one page.
// Every function here runs inside the caller's transaction.
#pragma once

#include <cstdint>

#include "connection.hpp"

namespace baton::sqlite::detail {

// How far the counter jumps after a reboot (docs/design.md §3.6), or when
// its row had to be recreated: past any token a lost commit may have
// handed out.
inline constexpr std::int64_t reboot_token_gap = std::int64_t{1} << 32;

// Creates the counter's row if missing, above every ticket or token the
// file still shows (including version 1's sqlite_sequence counter) plus
// `gap`. Inside a write transaction.
void seed_ticket_counter(Connection& conn, std::int64_t gap);
// Moves the counter `gap` ahead. Inside a write transaction.
void advance_ticket_counter(Connection& conn, std::int64_t gap);
// The next ticket. For a grant that never queues, that is the whole cost of
// fairness: one row update on the page the holder row goes to. Inside a
// write transaction; recreates a counter row deleted by hand.
std::int64_t take_ticket(Connection& conn);
// The counter as the current transaction sees it; 0 without the row.
std::int64_t read_ticket_counter(Connection& conn);
// Whether the row exists.
bool ticket_counter_exists(Connection& conn);

}  // namespace baton::sqlite::detail
