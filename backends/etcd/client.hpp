// client.hpp: unary requests to etcd's v3 JSON gateway, with fail-over
// between endpoints and the backend's one error translation.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <baton/kit/connection_pool.hpp>

#include "etcd_backend.hpp"

namespace baton::etcd {

// One curl easy handle: one kept-alive connection to one endpoint at a time.
// Not copyable, not movable.
struct Handle {
  Handle();
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();
  CURL* easy;
  bool broken = false;
};

// The client side of a cluster. Thread-safety: every method may be called
// from any thread, concurrently. Not copyable, not movable.
class Client {
 public:
  explicit Client(const Options& options);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // POSTs `body` to `path` ("/v3/kv/txn") and returns the answer. Tries the
  // endpoints in order, starting with the last one that answered, while
  // they cannot be reached or say they cannot serve (no leader). Throws
  // BackendUnavailable when none answers, BackendError for any other
  // failure; `what` names the operation in messages.
  nlohmann::json call(std::string_view path, const nlohmann::json& body, std::string_view what);

  // As call(), but nullopt when etcd answers that the lease is not found.
  std::optional<nlohmann::json> call_lease(std::string_view path, const nlohmann::json& body,
                                           std::string_view what);

  // The endpoint that answered last, for a watch stream.
  std::string current_endpoint() const;
  // The headers every request carries (content type, auth token); the
  // caller frees them with curl_slist_free_all().
  curl_slist* headers() const;
  // Applies the connect timeout and common options to a streaming handle.
  void configure(CURL* easy) const;

  std::chrono::milliseconds connect_timeout() const { return connect_timeout_; }

 private:
  struct Outcome;
  Outcome post(Handle& handle, const std::string& url, const std::string& body);
  std::optional<nlohmann::json> call_once(std::string_view path, const std::string& body, std::string_view what,
                                          bool lease_not_found_is_result);
  void authenticate();

  const std::vector<std::string> endpoints_;
  const std::string username_;
  const std::string password_;
  const std::chrono::milliseconds connect_timeout_;
  const std::chrono::milliseconds command_timeout_;
  baton::kit::ConnectionPool<Handle> pool_;
  mutable std::mutex mu_;
  std::size_t current_ = 0;  // guarded by mu_
  std::string token_;       // guarded by mu_: the auth token, empty without auth
};

}  // namespace baton::etcd
