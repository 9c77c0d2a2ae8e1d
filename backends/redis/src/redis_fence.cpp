// redis_fence.cpp: baton::redis::Fence, writes that Redis refuses when their
// fencing token is stale: the check, the record of the token and the
// caller's write run as one Lua script.
#include "baton/redis_fence.hpp"

#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "baton/error.hpp"
#include "baton/kit.hpp"
#include "redis_connection.hpp"

namespace baton::redis {
namespace {

using detail::Connection;
using detail::Reply;

// The error reply of a stale token: this prefix, then the highest token.
constexpr std::string_view stale_prefix = "BATON_STALE ";

// Wraps the caller's script: the fence key and the token come last in
// KEYS and ARGV, and are taken off before the caller's script runs, so it
// sees its own KEYS and ARGV. Tokens are compared as decimal strings (no
// leading zeros), exactly, where Lua's numbers would round above 2^53.
std::string wrapped(std::string_view script) {
  std::string out =
      "local fence_key = table.remove(KEYS)\n"
      "local token = table.remove(ARGV)\n"
      "local highest = redis.call('GET', fence_key)\n"
      "if highest and (#token < #highest or (#token == #highest and token < highest)) then\n"
      "  return redis.error_reply('BATON_STALE ' .. highest)\n"
      "end\n"
      "redis.call('SET', fence_key, token)\n"
      "local function baton_fenced_write()\n";
  out += script;
  out += "\nend\nreturn baton_fenced_write()\n";
  return out;
}

const char* const set_script = "return redis.call('SET', KEYS[1], ARGV[1])";

}  // namespace

struct Fence::State {
  detail::Endpoint endpoint;
  std::chrono::milliseconds connect_timeout;
  std::chrono::milliseconds command_timeout;
  std::mutex mu;  // guards what follows
  std::unique_ptr<Connection> conn;
  std::map<std::string, std::string, std::less<>> shas;  // wrapped script -> SHA1 loaded on the server

  Connection& connection() {
    if (!conn || conn->dead()) conn = Connection::open(endpoint, connect_timeout, command_timeout);
    return *conn;
  }
  // EVALSHA of `source`, loading it first when this Fence has not, and
  // again when the server forgot it (NOSCRIPT).
  Reply run(const std::string& source, const std::vector<std::string_view>& keys,
            const std::vector<std::string_view>& args);
};

Reply Fence::State::run(const std::string& source, const std::vector<std::string_view>& keys,
                        const std::vector<std::string_view>& args) {
  Connection& c = connection();
  const std::string context = endpoint.describe() + ": fenced write";
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto known = shas.find(source);
    if (known == shas.end()) {
      auto loaded = detail::check(c.command({"SCRIPT", "LOAD", source}), context);
      known = shas.emplace(source, std::string(loaded->str, loaded->len)).first;
    }
    const std::string count = std::to_string(keys.size());
    std::vector<std::string_view> argv{"EVALSHA", known->second, count};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = c.command(argv);
    if (r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).substr(0, 8) == "NOSCRIPT") {
      shas.erase(known);
      continue;
    }
    return r;
  }
  kit::raise(kit::Failure::error, context, "the server keeps forgetting the fence's script");
}

Fence::Fence(const Options& options)
    : state_(new State{detail::parse_url(options.url),
                       kit::or_default(options.connect_timeout, kit::default_connect_timeout),
                       kit::or_default(options.command_timeout, kit::default_command_timeout), {}, {}, {}}) {}

Fence::~Fence() = default;
Fence::Fence(Fence&&) noexcept = default;
Fence& Fence::operator=(Fence&&) noexcept = default;

std::string Fence::fence_key(std::string_view key) { return std::string(key) + ":baton-fence"; }

void Fence::set(std::string_view key, std::string_view value, std::uint64_t token) {
  eval(set_script, {std::string(key)}, {std::string(value)}, token);
}

std::optional<std::string> Fence::eval(std::string_view script, const std::vector<std::string>& keys,
                                       const std::vector<std::string>& args, std::uint64_t token) {
  if (keys.empty()) throw std::invalid_argument("baton::redis::Fence::eval: no key (keys[0] is the resource)");
  if (token == 0) throw std::invalid_argument("baton::redis::Fence: token 0 is no grant's token");
  const std::string fenced = fence_key(keys[0]);
  const std::string token_text = std::to_string(token);
  std::vector<std::string_view> key_args(keys.begin(), keys.end());
  key_args.push_back(fenced);
  std::vector<std::string_view> arg_args(args.begin(), args.end());
  arg_args.push_back(token_text);

  std::lock_guard lock(state_->mu);
  Reply r = state_->run(wrapped(script), key_args, arg_args);
  const std::string context = state_->endpoint.describe() + ": fenced write";
  if (r->type == REDIS_REPLY_ERROR) {
    const std::string_view message(r->str, r->len);
    if (message.substr(0, stale_prefix.size()) == stale_prefix)
      throw StaleToken(keys[0], token, std::stoull(std::string(message.substr(stale_prefix.size()))));
    detail::raise_error(context, message, false);
  }
  switch (r->type) {
    case REDIS_REPLY_NIL:
      return std::nullopt;
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r->str, r->len);
    default:
      kit::raise(kit::Failure::error, context, "the script returned an array or another reply type not supported");
  }
}

}  // namespace baton::redis
