// baton/error.hpp: the exception hierarchy.
//
// Contention is never an exception: a busy lock is `false` or an empty
// optional. Exceptions are for failures, and they are few, so a caller can
// catch exactly what it can handle:
//
//   baton::Error                  root of everything baton throws on purpose
//   +-- ConfigError               a config file/value is malformed (names the key)
//   +-- InvalidName               a lock name is empty, too long or reserved
//   +-- BackendUnavailable        the store cannot be reached within its timeout
//   +-- BackendError              the store answered, but with a failure
//   +-- LockLost                  a lease this instance held is gone
//   +-- StaleToken                a fenced write's token is below the highest seen
//
// Each backend has exactly one function that turns its native errors
// (result codes, SQLSTATEs, error replies) into these; <baton/kit/errors.hpp>
// has the helpers.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace baton {

// Root of the hierarchy. Copyable, like every std::exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A configuration value is missing, mistyped, unknown or out of range.
// `key()` is the dotted path of the offending key ("<backend>.path",
// "defaults.ttl_seconds", "backend"), or empty when the whole document is at
// fault (a syntax error). what() always names the key when there is one.
class ConfigError : public Error {
 public:
  // what() is "<source>: <key>: <message>", leaving out the empty parts.
  ConfigError(std::string key, std::string message, std::string source = {});
  const std::string& key() const noexcept { return key_; }
  // The message without key and source.
  const std::string& message() const noexcept { return message_; }
  // The file (or "<json>") the error is in; empty when not known yet.
  const std::string& source() const noexcept { return source_; }

 private:
  std::string key_;
  std::string message_;
  std::string source_;
};

// A lock name breaks the naming rules (see baton/name.hpp).
class InvalidName : public Error {
 public:
  using Error::Error;
};

// The backend could not be reached (connect refused, timed out, server gone,
// database file locked by another writer for longer than the busy timeout).
// Thrown within the backend's connect/command timeout, never after a hang.
class BackendUnavailable : public Error {
 public:
  using Error::Error;
};

// The backend was reached but reported a failure that retrying will not fix
// (corrupt database, missing privilege, unexpected reply).
class BackendError : public Error {
 public:
  using Error::Error;
};

// The lease of a grant this instance held is gone: it expired, or an admin
// cleared it, or the server that kept it restarted. Thrown by renew() and
// release() once per loss; the instance no longer holds the lock when this is
// thrown, and nothing it does can free another holder's grant.
class LockLost : public Error {
 public:
  using Error::Error;
};

// A fenced write was refused at the resource: its fencing token is lower
// than the highest token the resource has already admitted, so the grant it
// came from is over and a later holder has written since. The write did not
// happen; whatever else the caller's transaction did must be rolled back
// (the store's fence call says whether it did so itself). Copyable.
class StaleToken : public Error {
 public:
  // what() is "stale fencing token <token> for resource '<resource>':
  // <highest> already admitted".
  StaleToken(std::string resource, std::uint64_t token, std::uint64_t highest);
  // The resource the write was for.
  const std::string& resource() const noexcept { return resource_; }
  // The token the write presented.
  std::uint64_t token() const noexcept { return token_; }
  // The highest token the resource had admitted (greater than token()).
  std::uint64_t highest() const noexcept { return highest_; }

 private:
  std::string resource_;
  std::uint64_t token_;
  std::uint64_t highest_;
};

}  // namespace baton
