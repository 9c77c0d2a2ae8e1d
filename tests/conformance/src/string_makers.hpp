// Catch2 StringMakers for the values the suite compares, so that a failed
// check prints them instead of "{?}": baton::LockInfo, baton::Owner,
// milliseconds (baton::forever by name), Clock durations and time points
// (relative to now), and wall-clock time points (ISO 8601, UTC, with ms).
//
// One-definition rule: these are explicit specializations of
// Catch::StringMaker, so every translation unit of a program that
// stringifies one of these types must see them before its first use.
// support.hpp includes this header and every source of the suite includes
// support.hpp, so the suite's TUs agree. They build on Catch2's chrono and
// optional StringMakers, which change catch.hpp itself: the
// CATCH_CONFIG_ENABLE_*_STRINGMAKER macros checked below come from the
// compile definitions of baton_catch_impl (tests/support/CMakeLists.txt),
// which pass on to every target that links it or baton::conformance, so
// that every TU including catch.hpp sees the same header.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

#include "baton/backend.hpp"
#include "baton/lock_info.hpp"
#include "baton/options.hpp"

#if !defined(CATCH_CONFIG_ENABLE_CHRONO_STRINGMAKER) || !defined(CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER)
#error "string_makers.hpp: CATCH_CONFIG_ENABLE_CHRONO_STRINGMAKER and CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER \
must be compile definitions of every TU that includes catch.hpp (link baton_catch_impl)"
#endif

namespace baton::conformance::detail {

// `bytes` with every byte outside printable ASCII as \xNN, cut after `max`
// characters (then followed by its length): lock names may hold any byte
// (docs/design.md §1.11) and must not garble a report.
inline std::string printable(std::string_view bytes, std::size_t max = 120) {
  std::string out;
  for (const unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (out.size() <= max) return out;
  return out.substr(0, max) + "...(" + std::to_string(bytes.size()) + " bytes)";
}

// A duration as milliseconds with three decimals ("12.345 ms").
inline std::string format_ms(std::chrono::nanoseconds d) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f ms", static_cast<double>(d.count()) / 1e6);
  return buf;
}

// An offset from now (a time point minus now), as "+N ms from now" or "N ms ago".
inline std::string relative_to_now(std::chrono::nanoseconds from_now) {
  if (from_now < std::chrono::nanoseconds::zero()) return format_ms(-from_now) + " ago";
  std::string out = "+";
  out += format_ms(from_now);
  out += " from now";
  return out;
}

}  // namespace baton::conformance::detail

namespace Catch {

// baton::forever is milliseconds::max(): printed by name, not as 19 digits.
template <>
struct StringMaker<std::chrono::milliseconds> {
  static std::string convert(std::chrono::milliseconds d) {
    if (d == baton::forever) return "forever (baton::forever)";
    return std::to_string(d.count()) + " ms";
  }
};

// Clock::duration (and the wall clock's): differences of time points, shown
// in milliseconds, the unit of every bound of the contract.
template <>
struct StringMaker<std::chrono::nanoseconds> {
  static std::string convert(std::chrono::nanoseconds d) { return baton::conformance::detail::format_ms(d); }
};

// A Clock (monotonic) time point means nothing absolute: shown against now.
template <>
struct StringMaker<baton::Clock::time_point> {
  static std::string convert(baton::Clock::time_point t) {
    if (t == baton::Clock::time_point::max()) return "Clock::time_point::max() (no deadline)";
    if (t == baton::Clock::time_point{}) return "Clock::time_point{} (unset)";
    return "Clock " + baton::conformance::detail::relative_to_now(t - baton::Clock::now());
  }
};

// A wall-clock time point: ISO 8601 in UTC with milliseconds, and against now.
template <>
struct StringMaker<std::chrono::system_clock::time_point> {
  static std::string convert(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    if (t == system_clock::time_point{}) return "1970-01-01T00:00:00.000Z (the epoch: unset)";
    const auto secs = floor<seconds>(t);
    const std::time_t tt = system_clock::to_time_t(secs);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[40];
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03lldZ",
                  static_cast<long long>(duration_cast<milliseconds>(t - secs).count()));
    return std::string(buf) + " (" + baton::conformance::detail::relative_to_now(t - system_clock::now()) + ")";
  }
};

template <>
struct StringMaker<baton::Owner> {
  static std::string convert(const baton::Owner& o) {
    using baton::conformance::detail::printable;
    return "{id: \"" + printable(o.id) + "\", host: \"" + printable(o.host) + "\", pid: " + std::to_string(o.pid) +
           "}";
  }
};

// Every field, holder fields included when not held (they should be empty).
template <>
struct StringMaker<baton::LockInfo> {
  static std::string convert(const baton::LockInfo& i) {
    using baton::conformance::detail::printable;
    return "{name: \"" + printable(i.name) + "\", held: " + (i.held ? "true" : "false") +
           ", token: " + std::to_string(i.token) + ", owner: \"" + printable(i.owner) + "\", host: \"" +
           printable(i.host) + "\", pid: " + std::to_string(i.pid) +
           ", acquired_at: " + StringMaker<std::chrono::system_clock::time_point>::convert(i.acquired_at) +
           ", expires_in: " + StringMaker<std::chrono::milliseconds>::convert(i.expires_in) +
           ", waiters: " + std::to_string(i.waiters) + "}";
  }
};

}  // namespace Catch
