// plugin.cpp: the etcd backend as a baton plugin, libbaton_etcd.so:
//
//   {"plugins": ["libbaton_etcd.so"], "backend": "etcd",
//    "etcd": {"endpoints": ["http://10.0.0.1:2379", "http://10.0.0.2:2379"], "prefix": "baton/"}}
//
// This file reads that "etcd" section, says what the backend promises the
// conformance suite (its traits), and exports the entry point baton calls.
#include <chrono>
#include <memory>

#include <baton/config.hpp>
#include <baton/error.hpp>
#include <baton/kit/connection_keys.hpp>
#include <baton/kit/registration.hpp>
#include <baton/plugin.hpp>

#include "etcd_backend.hpp"

namespace baton::etcd {
namespace {

std::vector<std::string> endpoints_from(const nlohmann::json& section) {
  if (!section.is_object() || !section.contains("endpoints")) return Options{}.endpoints;
  const auto& list = section["endpoints"];
  if (!list.is_array() || list.empty()) throw ConfigError("etcd.endpoints", "must be a non-empty array of URLs");
  std::vector<std::string> out;
  for (const auto& e : list) {
    if (!e.is_string()) throw ConfigError("etcd.endpoints", "must be a non-empty array of URLs");
    auto url = e.get<std::string>();
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      throw ConfigError("etcd.endpoints", "\"" + url + "\" is not an http:// or https:// URL");
    }
    while (!url.empty() && url.back() == '/') url.pop_back();
    out.push_back(std::move(url));
  }
  return out;
}

// The "etcd" section. Unknown keys, wrong types and out-of-range values are
// ConfigErrors naming the key ("etcd.prefix").
Options options_from_config(const nlohmann::json& section) {
  Options o;
  o.endpoints = endpoints_from(section);
  auto rest = section;
  if (rest.is_object()) rest.erase("endpoints");
  ConfigSection s(rest, "etcd");
  o.prefix = s.string("prefix", o.prefix);
  if (o.prefix.empty()) throw ConfigError("etcd.prefix", "must not be empty");
  o.username = s.string("username", "");
  o.password = s.string("password", "");
  if (o.username.empty() != o.password.empty()) {
    throw ConfigError("etcd.username", "username and password go together");
  }
  baton::kit::read_connection_keys(s, o);
  if (auto v = s.milliseconds("waiter_ttl_seconds", std::chrono::seconds(1), std::chrono::hours(1))) o.waiter_ttl = *v;
  s.finish();
  return o;
}

// A dead waiter's key goes with its waiter lease: its TTL after the last
// renewal, plus up to half a second until etcd's expiry check, plus a
// margin. Nothing listens on port 1, so that endpoint is unreachable.
BackendTraits traits(const Options& options, const nlohmann::json& section) {
  BackendTraits t;
  const auto waiter = options.waiter_ttl > std::chrono::milliseconds::zero() ? options.waiter_ttl
                                                                              : std::chrono::seconds(3);
  t.dead_waiter_bound = std::max<std::chrono::milliseconds>(std::chrono::seconds(5),
                                                            waiter + std::chrono::seconds(2));
  t.survives_restart = true;
  t.unreachable_section = section;
  t.unreachable_section["endpoints"] = {"http://127.0.0.1:1"};
  t.unreachable_bound = std::chrono::seconds(5);
  return t;
}

void register_etcd(Registry& registry) {
  baton::kit::register_backend(
      registry, "etcd", &options_from_config, &make_backend,
      {{"endpoints", "client URLs of the cluster's members, tried in order (default [\"http://127.0.0.1:2379\"])"},
       {"prefix", "prefix of every key baton writes (default \"baton/\")"},
       {"username", "etcd user (optional; with password)"},
       {"password", "etcd password (optional; use ${VAR})"},
       {"connect_timeout_ms", "bound on connecting to one member, 1 to 600000 (default 5000)"},
       {"command_timeout_ms", "bound on one request's answer, 1 to 600000 (default 5000)"},
       {"pool_size", "idle connections kept for reuse, 1 to 1024 (default 8)"},
       {"waiter_ttl_seconds", "lease of a queued waiter's key, 1 to 3600 (default 3)"}},
      &traits);
}

}  // namespace
}  // namespace baton::etcd

BATON_PLUGIN(baton::etcd::register_etcd)
