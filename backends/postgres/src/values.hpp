// Parameters in and fields out of the PostgreSQL backend's statements.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "connection.hpp"

namespace baton::postgres::detail {

using Param = Statement::Param;

inline Param text(std::string v) { return Param{std::move(v), false}; }
inline Param text(std::int64_t v) { return Param{std::to_string(v), false}; }
inline Param bytes(std::string_view v) { return Param{std::string(v), true}; }
inline Param null() { return Param{std::nullopt, false}; }

// A lease in milliseconds as a statement parameter: NULL for forever.
inline Param lease_ms(std::chrono::milliseconds ttl) {
  return ttl == forever ? null() : text(static_cast<std::int64_t>(ttl.count()));
}

// Milliseconds as a GUC value string; "0" disables a timeout. Timeout GUCs
// stop at INT_MAX ms (24.8 days); anything longer is "none" on the server
// (a wait that long is still ended by the client's cancel request).
inline std::string guc_ms(std::chrono::milliseconds ms) {
  if (ms.count() > std::numeric_limits<std::int32_t>::max()) return "0";
  return std::to_string(std::max<std::int64_t>(ms.count(), 0));
}

// The idle_session_timeout that is a lease of `ttl`: none for forever.
inline std::string idle_timeout_for(std::chrono::milliseconds ttl) {
  return guc_ms(ttl == forever ? std::chrono::milliseconds(0) : ttl);
}

// A field as text ("" for NULL) and as an integer (0 for NULL).
inline std::string field(const PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) ? std::string() : std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col));
}
inline std::int64_t field_int(const PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0 : std::stoll(PQgetvalue(r, row, col));
}

}  // namespace baton::postgres::detail
