// One hiredis connection with bounded waits (docs/design.md §5.5). Internal: hiredis.h stays out of
// the public headers.
#pragma once

#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace baton::redis::detail {

// A parsed redis:// URL. The password is kept out of every message.
struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;
  std::string password;
  int db = 0;
  // "redis 127.0.0.1:6379/0": for messages.
  std::string describe() const;
};

// Throws ConfigError (key "redis.url") for a malformed URL.
Endpoint parse_url(const std::string& url);

struct ReplyDeleter {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// Not thread-safe except interrupt(). Once a call failed on I/O the
// connection is dead (hiredis cannot resynchronize a timed-out stream) and
// must be dropped. Move-only (held by unique_ptr).
class Connection {
 public:
  // Connects, authenticates and selects the db within `connect_timeout`.
  // Throws BackendUnavailable / BackendError.
  static std::unique_ptr<Connection> open(const Endpoint& endpoint, std::chrono::milliseconds connect_timeout,
                                          std::chrono::milliseconds command_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one command (binary-safe arguments) and returns its reply; an
  // error reply is returned too (check reply->type). `extra_wait` extends
  // the socket timeout for a blocking command (BLPOP). Throws
  // BackendUnavailable on I/O failure or timeout (and the connection is dead).
  Reply command(const std::vector<std::string_view>& args,
                std::chrono::milliseconds extra_wait = std::chrono::milliseconds::zero());

  // Sends `commands` in one write and reads their replies, in order, each
  // read bounded like command(): a pipeline. The server runs each command as
  // soon as the one before it finished (after a blocking one unblocks), with
  // no round trip between them. An error reply is returned like any other;
  // an I/O failure or timeout throws BackendUnavailable (the connection is
  // dead, and commands whose replies were not read may still run).
  std::vector<Reply> pipeline(const std::vector<std::vector<std::string_view>>& commands,
                              std::chrono::milliseconds extra_wait = std::chrono::milliseconds::zero());

  // Makes a blocked command() or pipeline() return at once (with
  // BackendUnavailable): for stop requests. Thread-safe.
  void interrupt() noexcept;

  // Dead after an I/O failure or an interrupt(): drop it and open another.
  bool dead() const noexcept { return dead_ || interrupted_.load(); }
  const Endpoint& endpoint() const noexcept { return endpoint_; }

 private:
  Connection(redisContext* ctx, Endpoint endpoint, std::chrono::milliseconds command_timeout);
  void set_timeout(std::chrono::milliseconds t);
  // Buffers one command / sends the buffer / reads the next reply (`args`
  // names the command in errors); each marks the connection dead and throws
  // on failure.
  void append(const std::vector<std::string_view>& args);
  void flush(const std::vector<std::string_view>& args);
  Reply read_reply(const std::vector<std::string_view>& args);

  redisContext* ctx_;
  Endpoint endpoint_;
  std::chrono::milliseconds command_timeout_;
  std::chrono::milliseconds current_timeout_{0};
  bool dead_ = false;
  std::atomic<bool> interrupted_{false};
  // Formatted commands not yet sent (see flush()).
  std::string out_;
};

// The one place hiredis's and the server's errors become baton's (through
// kit::raise): BackendUnavailable for I/O failures and for replies that mean
// "not now" (LOADING, BUSY, READONLY, MASTERDOWN, TRYAGAIN, CLUSTERDOWN),
// BackendError for the rest.
[[noreturn]] void raise_error(const std::string& context, std::string_view message, bool io_error);

// Returns `reply` unless it is an error reply, which it throws.
Reply check(Reply reply, const std::string& context);

}  // namespace baton::redis::detail
