#include "client.hpp"

#include <mutex>
#include <utility>

#include <baton/error.hpp>
#include <baton/kit/defaults.hpp>
#include <baton/kit/errors.hpp>

namespace baton::etcd {

namespace {

using baton::kit::Failure;

// gRPC status codes the gateway reports in "code".
constexpr int grpc_not_found = 5;
constexpr int grpc_deadline_exceeded = 4;
constexpr int grpc_resource_exhausted = 8;
constexpr int grpc_unavailable = 14;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

}  // namespace

Handle::Handle() : easy(curl_easy_init()) {
  if (easy == nullptr) throw BackendError("etcd: curl_easy_init failed");
}

Handle::~Handle() { curl_easy_cleanup(easy); }

// What one request came to: a transport failure (`curl`), or an HTTP status
// with the gateway's body.
struct Client::Outcome {
  CURLcode curl = CURLE_OK;
  std::string curl_message;
  long status = 0;
  std::string body;
};

namespace {

// The backend's one error translation: how a transport failure or a
// gateway error answer is classified, and whether the next endpoint may be
// tried (the request surely did not take effect, or is safe to repeat).
struct Verdict {
  Failure kind;
  bool try_next;
  std::string message;
};

Verdict translate(CURLcode curl, const std::string& curl_message, long status, const nlohmann::json& error) {
  if (curl != CURLE_OK) {
    // A member that cannot be reached, or that stopped answering (a frozen
    // or partitioned member times out), is left for the next one. Every
    // request is safe to repeat on another member: puts are guarded by
    // create revisions or land on the attempt's own key (docs/design.md
    // §8.5).
    const bool next = curl == CURLE_COULDNT_CONNECT || curl == CURLE_COULDNT_RESOLVE_HOST ||
                      curl == CURLE_COULDNT_RESOLVE_PROXY || curl == CURLE_SEND_ERROR ||
                      curl == CURLE_RECV_ERROR || curl == CURLE_GOT_NOTHING || curl == CURLE_OPERATION_TIMEDOUT;
    std::string message = curl_easy_strerror(curl);
    if (!curl_message.empty()) message += " (" + curl_message + ")";
    return {Failure::unavailable, next, message};
  }
  const int code = error.is_object() && error.contains("code") && error["code"].is_number_integer()
                       ? error["code"].get<int>()
                       : -1;
  std::string message = error.is_object() && error.contains("message") && error["message"].is_string()
                            ? error["message"].get<std::string>()
                            : "HTTP status " + std::to_string(status);
  if (code == grpc_unavailable || code == grpc_deadline_exceeded || code == grpc_resource_exhausted ||
      status == 503) {
    return {Failure::unavailable, code == grpc_unavailable || status == 503, message};
  }
  return {Failure::error, false, message};
}

}  // namespace

Client::Client(const Options& options)
    : endpoints_(options.endpoints),
      username_(options.username),
      password_(options.password),
      connect_timeout_(baton::kit::or_default(options.connect_timeout, baton::kit::default_connect_timeout)),
      command_timeout_(baton::kit::or_default(options.command_timeout, baton::kit::default_command_timeout)),
      pool_(baton::kit::or_default(options.pool_size, baton::kit::default_pool_size),
            [] { return std::make_unique<Handle>(); }, [](const Handle& h) { return h.broken; }) {
  init_curl_once();
  if (endpoints_.empty()) throw BackendError("etcd: no endpoints");
}

std::string Client::current_endpoint() const {
  std::lock_guard lock(mu_);
  return endpoints_[current_];
}

curl_slist* Client::headers() const {
  curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  std::lock_guard lock(mu_);
  if (!token_.empty()) list = curl_slist_append(list, ("Authorization: " + token_).c_str());
  return list;
}

void Client::configure(CURL* easy) const {
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_.count()));
  curl_easy_setopt(easy, CURLOPT_PROXY, "");  // the cluster is reached directly
}

Client::Outcome Client::post(Handle& handle, const std::string& url, const std::string& body) {
  Outcome out;
  char error[CURL_ERROR_SIZE] = {0};
  CURL* easy = handle.easy;
  curl_slist* list = headers();
  configure(easy);
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>((connect_timeout_ + command_timeout_).count()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
  out.curl = curl_easy_perform(easy);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(list);
  out.curl_message = error;
  if (out.curl == CURLE_OK) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &out.status);
  else handle.broken = true;
  return out;
}

void Client::authenticate() {
  {
    std::lock_guard lock(mu_);
    token_.clear();
  }
  const auto reply = call_once("/v3/auth/authenticate", nlohmann::json{{"name", username_}, {"password", password_}}.dump(),
                               "authenticate", false);
  if (!reply || !reply->contains("token")) throw BackendError("etcd: authenticate: no token in the answer");
  std::lock_guard lock(mu_);
  token_ = (*reply)["token"].get<std::string>();
}

std::optional<nlohmann::json> Client::call_once(std::string_view path, const std::string& body, std::string_view what,
                                                bool lease_not_found_is_result) {
  std::size_t start;
  {
    std::lock_guard lock(mu_);
    start = current_;
  }
  std::string last;
  for (std::size_t n = 0; n < endpoints_.size(); ++n) {
    const std::size_t index = (start + n) % endpoints_.size();
    const std::string context = "etcd " + endpoints_[index] + ": " + std::string(what);
    auto handle = pool_.take();
    const Outcome out = post(*handle, endpoints_[index] + std::string(path), body);
    pool_.give_back(std::move(handle));
    nlohmann::json answer = nlohmann::json::parse(out.body, nullptr, false);
    if (out.curl == CURLE_OK && out.status == 200 && !answer.is_discarded()) {
      std::lock_guard lock(mu_);
      current_ = index;
      return answer;
    }
    if (out.curl == CURLE_OK && answer.is_object() && answer.value("code", -1) == grpc_not_found &&
        lease_not_found_is_result) {
      return std::nullopt;
    }
    const Verdict v = translate(out.curl, out.curl_message, out.status, answer);
    if (!v.try_next) baton::kit::raise(v.kind, context, v.message);
    last = baton::kit::failure_message(context, v.message);
  }
  throw BackendUnavailable(last + (endpoints_.size() > 1 ? " (and every other endpoint)" : ""));
}

std::optional<nlohmann::json> Client::call_lease(std::string_view path, const nlohmann::json& body,
                                                 std::string_view what) {
  const std::string text = body.dump();
  bool authenticated = false;
  {
    std::lock_guard lock(mu_);
    authenticated = !token_.empty();
  }
  if (!username_.empty() && !authenticated) authenticate();
  try {
    return call_once(path, text, what, true);
  } catch (const BackendError& e) {
    // An expired auth token is renewed once.
    if (username_.empty() || std::string_view(e.what()).find("invalid auth token") == std::string_view::npos) throw;
  }
  authenticate();
  return call_once(path, text, what, true);
}

nlohmann::json Client::call(std::string_view path, const nlohmann::json& body, std::string_view what) {
  auto reply = call_lease(path, body, what);
  if (!reply) throw BackendError("etcd: " + std::string(what) + ": requested lease not found");
  return std::move(*reply);
}

}  // namespace baton::etcd
