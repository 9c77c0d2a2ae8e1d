// keys.hpp: where baton keeps a lock in etcd, and how the gateway's JSON
// spells keys and key-values (docs/design.md §8.1).
//
//   <prefix><hex of the name>/<16 hex digits>   one per waiter or holder
//
// The value records who queued (owner, host, pid), when (wall clock, for
// display) and the lease asked for. The key with the lowest create revision
// under a name's directory is the holder; the others wait in create-revision
// order. Pure functions; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <baton/backend.hpp>

namespace baton::etcd {

std::string base64(std::string_view bytes);
std::string unbase64(std::string_view text);

// "<prefix><hex of name>/": the directory of one name's keys.
std::string name_dir(std::string_view prefix, std::string_view name);
// The name a directory stands for; empty when `key` is not under `prefix`
// in baton's layout.
std::string name_of_key(std::string_view prefix, std::string_view key);
// The first key after every key that starts with `prefix` (a range's end).
std::string prefix_end(std::string_view prefix);

// A range or txn request field for every key under `prefix`.
nlohmann::json prefix_range(std::string_view prefix);

// One waiter's or holder's key as a range returns it.
struct Entry {
  std::string key;
  std::int64_t create_revision = 0;
  std::int64_t lease = 0;
  Owner owner;
  std::chrono::system_clock::time_point queued_at{};
  std::chrono::milliseconds ttl{0};  // asked for; baton::forever for none
};

// The value a waiter or holder writes, base64-encoded for the gateway.
std::string entry_value(const Owner& owner, std::chrono::milliseconds ttl);

// The entries of a range answer ("kvs"), in create-revision order.
std::vector<Entry> entries_of(const nlohmann::json& range_response);

// A JSON int64 of the gateway (a string, or absent when zero).
std::int64_t int_field(const nlohmann::json& object, const char* key);

}  // namespace baton::etcd
