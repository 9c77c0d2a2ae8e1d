// baton/kit/errors.hpp: building blocks for a backend's one error
// translation function.
//
// A backend classifies each native failure (a result code, a SQLSTATE, an
// error reply) once, in one function, and raises it through
// raise(): unreachable or overloaded stores become BackendUnavailable
// (the caller may retry later), everything else BackendError. Messages read
// "<context>: <native message>", where context names the store and the
// operation ("<store> 127.0.0.1:5432: renew").
#pragma once

#include <string>
#include <string_view>

#include "baton/error.hpp"

namespace baton::kit {

enum class Failure {
  unavailable,  // cannot be reached now: BackendUnavailable
  error,        // reached, but failed in a way retrying will not fix: BackendError
};

// "<context>: <message>", leaving out an empty context.
inline std::string failure_message(std::string_view context, std::string_view message) {
  std::string out(context);
  if (!out.empty() && !message.empty()) out += ": ";
  out += message;
  return out;
}

// Throws the exception `kind` stands for, with failure_message().
[[noreturn]] inline void raise(Failure kind, std::string_view context, std::string_view message) {
  if (kind == Failure::unavailable) throw BackendUnavailable(failure_message(context, message));
  throw BackendError(failure_message(context, message));
}

}  // namespace baton::kit
