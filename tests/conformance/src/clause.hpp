// Every check of the suite names the clause of the lock contract it is
// about (docs/design.md §1), and the backend under test, so that a failure
// reads on its own to someone who has only the installed library:
//
//   CLAUSE("§1.3", "waiters are granted in arrival order");
//   CLAUSE_AT("§1.9", "Backend::inspect", "inspect().waiters counts live waiters");
//
// are scoped Catch2 INFOs (they annotate every failure in their scope)
// reading, with one fixed format,
//
//   backend 'sqlite': contract clause: docs/design.md §1.3 FIFO — waiters are granted in arrival order
//   backend 'sqlite': contract clause: docs/design.md §1.9 Inspection (Backend::inspect) — inspect()...
//
// `what` may be a stream expression (`"waiter " << i`). The section must be
// one of the table below, checked at compile time, so a citation cannot
// drift from the document's numbering.
//
// Catch2 v2 drops every INFO of a case when one of its SECTIONs ends, so a
// case with checks after its SECTIONs keeps its clause as a string and
// states it again after them:
//
//   const auto clause = CLAUSE_TEXT("§1.4", "BackendLock::acquire", "...");
//   INFO(clause);
//   SECTION(...) {...}
//   INFO(clause);
#pragma once

#include <string>
#include <string_view>

#include "support.hpp"

namespace baton::conformance::detail {

// One clause of docs/design.md §1: its number and its heading, as the
// document spells them.
struct ContractClause {
  std::string_view section;
  std::string_view title;
};

// §1 itself stands for its unnumbered last part, "The standard lock names".
inline constexpr ContractClause contract_clauses[] = {
    {"§1", "The lock contract"},          {"§1.1", "Mutual exclusion"},
    {"§1.2", "Re-entrancy is per instance"}, {"§1.3", "FIFO"},
    {"§1.4", "Timeouts"},                 {"§1.5", "Leases"},
    {"§1.6", "Crashes"},                  {"§1.7", "Fencing tokens"},
    {"§1.8", "Lost-lease notification"},  {"§1.9", "Inspection"},
    {"§1.10", "Admin clear"},             {"§1.11", "Names"},
    {"§1.12", "Errors, not hangs"},       {"§1.13", "Lock sets"},
    {"§1.14", "Resource locks and the reserved namespace"},
};

// The clause numbered `section`. Evaluated at compile time: a section that
// is not in the table fails the build.
consteval ContractClause contract_clause(std::string_view section) {
  for (const auto& c : contract_clauses) {
    if (c.section == section) return c;
  }
  throw "not a clause of docs/design.md §1";
}

// "backend '<Suite::name>'": how every message of the suite names the
// backend under test.
inline std::string backend_label() {
  return "backend '" + (suite().name.empty() ? std::string("(unnamed)") : suite().name) + "'";
}

// The fixed head of a clause message, up to and including the dash.
inline std::string clause_head(ContractClause clause, std::string_view method = {}) {
  std::string head = backend_label() + ": contract clause: docs/design.md " + std::string(clause.section) + " " +
                     std::string(clause.title);
  if (!method.empty()) head += " (" + std::string(method) + ")";
  return head + " — ";
}

}  // namespace baton::conformance::detail

#define CLAUSE(section, what)                                                                            \
  INFO(::baton::conformance::detail::clause_head(::baton::conformance::detail::contract_clause(section)) \
       << what)

#define CLAUSE_TEXT(section, method, what)                                                                \
  (::baton::conformance::detail::clause_head(::baton::conformance::detail::contract_clause(section), method) + \
   std::string(what))

#define CLAUSE_AT(section, method, what)                                                                         \
  INFO(::baton::conformance::detail::clause_head(::baton::conformance::detail::contract_clause(section), method) \
       << what)
