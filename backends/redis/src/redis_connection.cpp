#include "redis_connection.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "baton/error.hpp"
#include "baton/kit/errors.hpp"

namespace baton::redis::detail {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string Endpoint::describe() const {
  return "redis " + host + ":" + std::to_string(port) + "/" + std::to_string(db);
}

Endpoint parse_url(const std::string& url) {
  constexpr std::string_view scheme = "redis://";
  // Never echo the URL itself: it may carry a password.
  auto bad = [](const std::string& why) { return ConfigError("redis.url", why + " (expected redis://[user:password@]host[:port][/db])"); };
  if (url.compare(0, scheme.size(), scheme) != 0) throw bad("must start with redis://");
  std::string_view rest(url);
  rest.remove_prefix(scheme.size());
  Endpoint e;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view auth = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    if (auto colon = auth.find(':'); colon != std::string_view::npos) {
      e.user = percent_decode(auth.substr(0, colon));
      e.password = percent_decode(auth.substr(colon + 1));
    } else {
      e.password = percent_decode(auth);  // redis://secret@host: a password, as redis-cli reads it
    }
  }
  std::string_view hostport = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      if (!all_digits(db) || db.size() > 5) throw bad("the database must be a number");
      e.db = std::stoi(std::string(db));
    }
  }
  if (auto colon = hostport.rfind(':'); colon != std::string_view::npos && hostport.find(']') == std::string_view::npos) {
    std::string_view port = hostport.substr(colon + 1);
    if (!all_digits(port) || port.size() > 5 || std::stoi(std::string(port)) < 1 ||
        std::stoi(std::string(port)) > 65535) {
      throw bad("the port must be a number from 1 to 65535");
    }
    e.port = std::stoi(std::string(port));
    hostport = hostport.substr(0, colon);
  }
  if (hostport.empty()) throw bad("the host is missing");
  e.host = std::string(hostport);
  return e;
}

void raise_error(const std::string& context, std::string_view message, bool io_error) {
  const bool transient = [&] {
    for (std::string_view code : {"LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"}) {
      if (message.substr(0, code.size()) == code) return true;
    }
    return false;
  }();
  kit::raise(io_error || transient ? kit::Failure::unavailable : kit::Failure::error, context, message);
}

Reply check(Reply reply, const std::string& context) {
  if (reply->type == REDIS_REPLY_ERROR) raise_error(context, std::string_view(reply->str, reply->len), false);
  return reply;
}

std::unique_ptr<Connection> Connection::open(const Endpoint& endpoint, std::chrono::milliseconds connect_timeout,
                                             std::chrono::milliseconds command_timeout) {
  redisContext* ctx = redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, to_timeval(connect_timeout));
  if (ctx == nullptr) kit::raise(kit::Failure::unavailable, endpoint.describe(), "cannot allocate a connection");
  std::unique_ptr<Connection> c(new Connection(ctx, endpoint, command_timeout));
  if (ctx->err != 0) {
    c->dead_ = true;
    raise_error(endpoint.describe() + ": cannot connect", ctx->errstr, true);
  }
  // redisConnectWithTimeout bounds only the connect; every later read and
  // write needs its own bound.
  c->set_timeout(command_timeout);
  if (!endpoint.password.empty()) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!endpoint.user.empty()) auth.push_back(endpoint.user);
    auth.push_back(endpoint.password);
    auto r = c->command(auth);
    if (r->type == REDIS_REPLY_ERROR) {
      // Say why without the server's text, which could echo the secret.
      kit::raise(kit::Failure::error, endpoint.describe(), "authentication failed (check the user and password)");
    }
  }
  if (endpoint.db != 0) {
    const std::string db = std::to_string(endpoint.db);
    check(c->command({"SELECT", db}), endpoint.describe() + ": SELECT");
  }
  return c;
}

Connection::Connection(redisContext* ctx, Endpoint endpoint, std::chrono::milliseconds command_timeout)
    : ctx_(ctx), endpoint_(std::move(endpoint)), command_timeout_(command_timeout) {}

Connection::~Connection() { redisFree(ctx_); }

void Connection::set_timeout(std::chrono::milliseconds t) {
  if (t == current_timeout_) return;
  if (redisSetTimeout(ctx_, to_timeval(t)) != REDIS_OK) {
    dead_ = true;
    raise_error(endpoint_.describe() + ": cannot set the socket timeout", ctx_->errstr, true);
  }
  current_timeout_ = t;
}

Reply Connection::command(const std::vector<std::string_view>& args, std::chrono::milliseconds extra_wait) {
  if (dead()) kit::raise(kit::Failure::unavailable, endpoint_.describe(), "connection is closed");
  set_timeout(command_timeout_ + extra_wait);
  append(args);
  flush(args);
  return read_reply(args);
}

std::vector<Reply> Connection::pipeline(const std::vector<std::vector<std::string_view>>& commands,
                                        std::chrono::milliseconds extra_wait) {
  if (dead()) kit::raise(kit::Failure::unavailable, endpoint_.describe(), "connection is closed");
  set_timeout(command_timeout_ + extra_wait);
  for (const auto& args : commands) append(args);
  flush(commands.front());
  std::vector<Reply> replies;
  for (const auto& args : commands) replies.push_back(read_reply(args));
  return replies;
}

void Connection::append(const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (auto a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* formatted = nullptr;
  const int n = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), argv.data(), lengths.data());
  if (n < 0) {
    dead_ = true;
    raise_error(endpoint_.describe() + ": " + std::string(args.empty() ? "" : args[0]), "out of memory", true);
  }
  out_.append(formatted, static_cast<std::size_t>(n));
  redisFreeCommand(formatted);
}

// hiredis writes with write(2), which raises SIGPIPE on a connection the
// server (or interrupt()) closed, killing a program that did not ignore it:
// a library must not. So the bytes go out here, by send(MSG_NOSIGNAL), and
// hiredis only reads (its output buffer stays empty). The socket's send
// timeout (redisSetTimeout) bounds each send.
void Connection::flush(const std::vector<std::string_view>& args) {
  std::size_t sent = 0;
  while (sent < out_.size()) {
    const ssize_t n = ::send(ctx_->fd, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    const int err = errno;
    out_.clear();
    dead_ = true;
    raise_error(endpoint_.describe() + ": " + std::string(args.empty() ? "" : args[0]),
                err == EAGAIN || err == EWOULDBLOCK ? "timed out sending" : std::strerror(err), true);
  }
  out_.clear();
}

Reply Connection::read_reply(const std::vector<std::string_view>& args) {
  void* raw = nullptr;
  if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
    dead_ = true;
    raise_error(endpoint_.describe() + ": " + std::string(args.empty() ? "" : args[0]), ctx_->errstr, true);
  }
  return Reply(static_cast<redisReply*>(raw));
}

void Connection::interrupt() noexcept {
  // Marked first, so whoever sees the connection dead never writes to the
  // shut socket.
  interrupted_.store(true);
  if (ctx_ != nullptr && ctx_->fd >= 0) ::shutdown(ctx_->fd, SHUT_RDWR);
}

}  // namespace baton::redis::detail
