#include "watch.hpp"

#include <algorithm>
#include <memory>

#include <baton/kit/deadline.hpp>

#include "keys.hpp"

namespace baton::etcd {

namespace {

// What the stream has said so far: complete lines are parsed as they come.
struct StreamState {
  std::string pending;
  bool deleted = false;
  bool canceled = false;
  bool created = false;  // etcd confirmed the watch
};

void read_message(StreamState& state, const std::string& line) {
  const auto message = nlohmann::json::parse(line, nullptr, false);
  if (!message.is_object() || !message.contains("result")) {
    state.canceled = true;  // an error message: the stream is of no use
    return;
  }
  const auto& result = message["result"];
  if (result.value("canceled", false) || int_field(result, "compact_revision") != 0) state.canceled = true;
  if (result.value("created", false)) state.created = true;
  if (!result.contains("events")) return;
  for (const auto& event : result["events"]) {
    if (event.value("type", "PUT") == "DELETE") state.deleted = true;
  }
}

std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
  auto& state = *static_cast<StreamState*>(user);
  state.pending.append(data, size * count);
  std::size_t newline;
  while ((newline = state.pending.find('\n')) != std::string::npos) {
    read_message(state, state.pending.substr(0, newline));
    state.pending.erase(0, newline + 1);
  }
  return size * count;
}

struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct ListDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// Removes the easy handle from the multi handle before either is freed.
struct Attached {
  CURLM* multi;
  CURL* easy;
  ~Attached() { curl_multi_remove_handle(multi, easy); }
};

// Sets `easy` up as the watch stream: `body` POSTed to `url` (strings that
// outlive the transfer), its reply lines parsed into `state`.
void configure_stream(Client& client, CURL* easy, const std::string& url, const std::string& body,
                      curl_slist* headers, StreamState& state) {
  client.configure(easy);
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_data);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &state);
}

}  // namespace

WatchEnd wait_for_delete(Client& client, const std::string& key, Clock::time_point deadline, const std::stop_token& stop,
                         std::chrono::milliseconds tick_interval, const std::function<bool()>& tick,
                         const std::function<bool()>& gone) {
  StreamState state;
  const std::string body =
      nlohmann::json{{"create_request",
                      {{"key", base64(key)}, {"filters", {"NOPUT"}}}}}
          .dump();
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  std::unique_ptr<curl_slist, ListDeleter> headers(client.headers());
  if (!multi || !easy) return WatchEnd::ended;
  const std::string endpoint = client.current_endpoint();
  const std::string url = endpoint + "/v3/watch";
  configure_stream(client, easy.get(), url, body, headers.get(), state);
  curl_multi_add_handle(multi.get(), easy.get());
  Attached attached{multi.get(), easy.get()};
  std::stop_callback wake(stop, [m = multi.get()] { curl_multi_wakeup(m); });

  // The watch starts at the revision after the cluster's current one when
  // etcd creates it (a watch from an older revision is served by a catch-up
  // loop that runs every 100 ms): a deletion before that is seen by one
  // look-up once etcd confirms the watch. Until then the key is looked up on
  // a pooled connection, first after 5 ms, then at doubling intervals up to
  // a tick: the stream's own connect and set-up can take longer than a
  // hand-off (a dropped SYN waits a second or more for its retransmission).
  bool looked_after_created = false;
  auto look_interval = std::chrono::milliseconds(5);
  auto next_look = Clock::now() + look_interval;
  auto next_tick = Clock::now() + tick_interval;
  for (;;) {
    int running = 0;
    curl_multi_perform(multi.get(), &running);
    if (state.deleted) return WatchEnd::deleted;
    if (stop.stop_requested()) return WatchEnd::stopped;
    const auto now = Clock::now();
    if (now >= deadline) return WatchEnd::deadline;
    if (running == 0 || state.canceled) return WatchEnd::ended;
    if (now >= next_tick) {
      if (!tick()) return WatchEnd::ended;
      // The unary calls moved to another member: this one may be frozen or
      // cut off, and its stream silent. Watch again where they go.
      if (client.current_endpoint() != endpoint) return WatchEnd::ended;
      next_tick = Clock::now() + tick_interval;
    }
    if (state.created && !looked_after_created) {
      looked_after_created = true;
      if (gone()) return WatchEnd::deleted;
    }
    if (!state.created && Clock::now() >= next_look) {
      if (gone()) return WatchEnd::deleted;
      look_interval = std::min(look_interval * 2, tick_interval);
      next_look = Clock::now() + look_interval;
    }
    const auto until = std::min({deadline, next_tick, state.created ? Clock::time_point::max() : next_look});
    const auto wait = std::clamp<std::int64_t>(baton::kit::remaining(until).count(), 1, 1000);
    curl_multi_poll(multi.get(), nullptr, 0, static_cast<int>(wait), nullptr);
  }
}

}  // namespace baton::etcd
