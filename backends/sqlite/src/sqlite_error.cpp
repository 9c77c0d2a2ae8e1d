#include "sqlite_error.hpp"

#include <sqlite3.h>

#include "baton/kit/errors.hpp"

namespace baton::sqlite::detail {
namespace {

kit::Failure classify(int rc) noexcept {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_FULL:
    case SQLITE_PERM:
    case SQLITE_NOLFS:
    case SQLITE_PROTOCOL:
      return kit::Failure::unavailable;
    default:
      return kit::Failure::error;
  }
}

}  // namespace

bool is_busy(int rc) noexcept {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

void raise_sqlite_error(int rc, std::string_view sqlite_message, const std::filesystem::path& path,
                        std::string_view doing) {
  std::string context = "sqlite: ";
  context += doing;
  context += " on ";
  context += path.string();
  std::string message(sqlite_message.empty() ? std::string_view(sqlite3_errstr(rc)) : sqlite_message);
  message += " (";
  message += sqlite3_errstr(rc);
  message += ", code ";
  message += std::to_string(rc);
  message += ")";
  kit::raise(classify(rc), context, message);
}

}  // namespace baton::sqlite::detail
