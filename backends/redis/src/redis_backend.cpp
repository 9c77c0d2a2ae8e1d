// The Redis backend (docs/design.md §5): configuration, scripts, and
// inspect/list/clear. The lock's side is redis_lock.cpp.
#include "redis_backend.hpp"

#include "baton/config.hpp"
#include "baton/kit/connection_keys.hpp"
#include "baton/error.hpp"
#include "baton/kit/defaults.hpp"
#include "baton/kit/errors.hpp"
#include "baton/kit/registration.hpp"

namespace baton::redis {

namespace detail {

namespace {

using std::chrono::milliseconds;

// `s` with the glob characters of SCAN MATCH escaped.
std::string glob_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

// The inspect script's reply: {held, token, owner, host, pid, acquired ms,
// pttl, live waiters}.
LockInfo to_info(std::string_view name, const redisReply* r) {
  LockInfo info;
  info.name = name;
  info.waiters = static_cast<std::size_t>(as_int(r->element[7]));
  if (as_int(r->element[0]) != 1) return info;
  info.held = true;
  info.token = static_cast<std::uint64_t>(as_int(r->element[1]));
  info.owner = as_str(r->element[2]);
  info.host = as_str(r->element[3]);
  info.pid = as_int(r->element[4]);
  info.acquired_at = std::chrono::system_clock::time_point(milliseconds(as_int(r->element[5])));
  const long long pttl = as_int(r->element[6]);
  info.expires_in = pttl < 0 ? forever : milliseconds(pttl);
  return info;
}

}  // namespace

long long as_int(const redisReply* r) {
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  if (r->type == REDIS_REPLY_STRING) return std::stoll(std::string(r->str, r->len));
  return 0;
}

std::string as_str(const redisReply* r) {
  return r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : std::to_string(as_int(r));
}

bool is_noscript(const redisReply* r) {
  return r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).substr(0, 8) == "NOSCRIPT";
}

RedisBackend::RedisBackend(Options options)
    : options_(std::move(options)),
      endpoint_(parse_url(options_.url)),
      pool_(kit::or_default(options_.pool_size, kit::default_pool_size),
            [this] {
              return Connection::open(endpoint_,
                                      kit::or_default(options_.connect_timeout, kit::default_connect_timeout),
                                      kit::or_default(options_.command_timeout, kit::default_command_timeout));
            },
            [](const Connection& c) { return c.dead(); }) {}

std::unique_ptr<BackendLock> RedisBackend::open(std::string_view name, const Owner& owner) {
  return std::make_unique<RedisLock>(std::static_pointer_cast<RedisBackend>(shared_from_this()), std::string(name),
                                     owner);
}

LockInfo RedisBackend::inspect(std::string_view name) {
  auto c = take_connection();
  LockInfo info = inspect_on(*c, name);
  give_back(std::move(c));
  return info;
}

// Every held lock: SCAN for the holder keys under the prefix (§5.1), then
// inspect each name found.
std::vector<LockInfo> RedisBackend::list() {
  constexpr std::string_view holder_suffix = ":holder";
  auto c = take_connection();
  std::vector<LockInfo> out;
  const std::string pattern = glob_escape(options_.key_prefix) + "*" + std::string(holder_suffix);
  std::string cursor = "0";
  do {
    auto r = check(c->command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}), endpoint_.describe() + ": SCAN");
    cursor = as_str(r->element[0]);
    const redisReply* keys = r->element[1];
    for (std::size_t i = 0; i < keys->elements; ++i) {
      const std::string key = as_str(keys->element[i]);
      const std::string name =
          key.substr(options_.key_prefix.size(), key.size() - options_.key_prefix.size() - holder_suffix.size());
      if (name.empty()) continue;
      auto info = inspect_on(*c, name);
      if (info.held) out.push_back(std::move(info));
    }
  } while (cursor != "0");
  give_back(std::move(c));
  return out;
}

bool RedisBackend::clear(std::string_view name) {
  auto c = take_connection();
  ScriptArgs args;
  args.waiter_ttl_ms = std::to_string(waiter_ttl().count());
  args.wake_prefix = wake_prefix(name);
  auto r = eval(*c, scripts.clear, keys_for(name), args);
  give_back(std::move(c));
  return as_int(r.get()) == 1;
}

LockInfo RedisBackend::inspect_on(Connection& c, std::string_view name) {
  return to_info(name, eval(c, scripts.inspect, keys_for(name), ScriptArgs{}).get());
}

Reply RedisBackend::eval(Connection& c, Script& script, const ScriptKeys& keys, const ScriptArgs& args) {
  std::string known_sha;
  {
    std::lock_guard lock(sha_mu_);
    known_sha = script.sha;
  }
  const std::vector<std::string> argv = args.to_argv();
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (known_sha.empty()) known_sha = load(c, script);
    auto r = c.command(evalsha_argv(known_sha, keys, argv));
    if (is_noscript(r.get())) {
      known_sha.clear();
      continue;
    }
    return check(std::move(r), endpoint_.describe() + ": script");
  }
  kit::raise(kit::Failure::error, endpoint_.describe(), "the server keeps forgetting baton's scripts");
}

std::string RedisBackend::sha(Connection& c, Script& script) {
  {
    std::lock_guard lock(sha_mu_);
    if (!script.sha.empty()) return script.sha;
  }
  return load(c, script);
}

milliseconds RedisBackend::heartbeat() const {
  return kit::or_default(options_.heartbeat_interval, kit::default_heartbeat_interval);
}

std::string RedisBackend::load(Connection& c, Script& script) {
  auto loaded = check(c.command({"SCRIPT", "LOAD", script.source}), endpoint_.describe() + ": SCRIPT LOAD");
  std::string loaded_sha = as_str(loaded.get());
  std::lock_guard lock(sha_mu_);
  script.sha = loaded_sha;
  return loaded_sha;
}

}  // namespace detail

std::shared_ptr<Backend> make_backend(const Options& options) {
  return std::make_shared<detail::RedisBackend>(options);
}

Options options_from_config(const nlohmann::json& section) {
  using std::chrono::milliseconds;
  ConfigSection s(section, "redis");
  Options o;
  o.url = s.string("url", o.url);
  o.key_prefix = s.string("key_prefix", o.key_prefix);
  kit::read_connection_keys(s, o);
  if (auto v = s.milliseconds("heartbeat_ms", milliseconds(10), std::chrono::minutes(10))) o.heartbeat_interval = *v;
  s.finish();
  detail::parse_url(o.url);  // ConfigError now rather than at first use
  return o;
}

namespace {

// A dead waiter leaves the queue once its liveness key expires (three
// heartbeat intervals, docs/design.md §5.3); five intervals bound that with
// the margin the suite needs (see the SQLite backend's traits). Nothing
// listens on port 1, so a copy of the section aimed there is unreachable.
BackendTraits traits(const Options& options, const nlohmann::json& section) {
  BackendTraits t;
  t.dead_waiter_bound = 5 * kit::or_default(options.heartbeat_interval, kit::default_heartbeat_interval);
  t.unreachable_section = section;
  t.unreachable_section["url"] = "redis://127.0.0.1:1/0";
  t.unreachable_bound = kit::or_default(options.connect_timeout, kit::default_connect_timeout) + std::chrono::seconds(5);
  return t;
}

}  // namespace

void register_backend(Registry& registry) {
  // The keys options_from_config() reads (docs/design.md §6.3).
  kit::register_backend(registry, "redis", &options_from_config, &make_backend,
                        {{"url", "the server: redis://[user:password@]host[:port][/db] (default redis://127.0.0.1:6379/0)"},
                         {"key_prefix", "prefix of every key baton writes (default \"baton:\")"},
                         {"connect_timeout_ms", "bound on connecting, 1 to 600000 (default 5000)"},
                         {"command_timeout_ms", "bound on one command's reply, 1 to 600000 (default 5000)"},
                         {"heartbeat_ms", "how often a waiter refreshes its liveness, 10 to 600000 (default 1000)"},
                         {"pool_size", "idle connections kept for reuse, 1 to 1024 (default 8)"}},
                        &traits);
}

}  // namespace baton::redis
