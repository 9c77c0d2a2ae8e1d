// bench/etcd_floor.cpp: the bare round trips of an etcd lock, without baton:
// a lease-bound put in a transaction (only if the key is absent) and a
// delete, over etcd's JSON gateway
// on one kept-alive libcurl connection, as the etcd plugin speaks it
// (docs/design.md §8.4). The lease is granted once, before the timing.
#include <curl/curl.h>

#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "common.hpp"
#include "floors.hpp"

namespace bench {

namespace {

std::size_t append(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// One POST on `easy`; the answer's JSON, or throws.
nlohmann::json post(CURL* easy, curl_slist* headers, const std::string& url, const std::string& body) {
  std::string answer;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &append);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer);
  long status = 0;
  if (curl_easy_perform(easy) != CURLE_OK) throw std::runtime_error("etcd floor: request to " + url + " failed");
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) throw std::runtime_error("etcd floor: " + url + ": " + answer);
  return nlohmann::json::parse(answer);
}

}  // namespace

Floor etcd_floor() {
  std::string endpoint = env("BATON_TEST_ETCD_ENDPOINTS");
  endpoint = endpoint.substr(0, endpoint.find(','));
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* easy = curl_easy_init();
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  const auto lease = post(easy, headers, endpoint + "/v3/lease/grant", R"({"TTL":"60"})").at("ID").get<std::string>();
  // Base64 of the key, and the two requests' bodies, made once.
  const std::string key = "YmF0b24tYmVuY2gtZmxvb3I=";  // "baton-bench-floor"
  const nlohmann::json absent{{"target", "CREATE"}, {"result", "EQUAL"}, {"key", key}, {"create_revision", "0"}};
  auto put = std::make_shared<std::string>(
      nlohmann::json{{"compare", {absent}},
                     {"success", {{{"request_put", {{"key", key}, {"value", "MQ=="}, {"lease", lease}}}}}}}
          .dump());
  auto del = std::make_shared<std::string>(nlohmann::json{{"key", key}}.dump());
  auto txn_url = std::make_shared<std::string>(endpoint + "/v3/kv/txn");
  auto del_url = std::make_shared<std::string>(endpoint + "/v3/kv/deleterange");
  Floor f;
  f.pair = [=] {
    post(easy, headers, *txn_url, *put);
    post(easy, headers, *del_url, *del);
  };
  f.close = [=] {
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
  };
  return f;
}

}  // namespace bench
