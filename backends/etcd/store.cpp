#include "store.hpp"

#include <algorithm>
#include <map>

#include <baton/error.hpp>
#include <baton/kit/defaults.hpp>

namespace baton::etcd {

namespace {

// etcd's longest lease (lease.MaxLeaseTTL), used for baton::forever.
constexpr std::int64_t longest_lease_s = 9'000'000'000;
constexpr std::chrono::milliseconds default_waiter_ttl = std::chrono::seconds(3);

nlohmann::json lease_id(std::int64_t lease) { return {{"ID", std::to_string(lease)}}; }

}  // namespace

std::unique_ptr<BackendLock> make_lock(std::shared_ptr<Store> store, std::string_view name, const Owner& owner);

std::int64_t lease_seconds(std::chrono::milliseconds ttl) {
  if (ttl == baton::forever) return longest_lease_s;
  return std::clamp<std::int64_t>((ttl.count() + 999) / 1000, 1, longest_lease_s);
}

Store::Store(const Options& options)
    : client_(options),
      prefix_(options.prefix),
      waiter_ttl_(baton::kit::or_default(options.waiter_ttl, default_waiter_ttl)) {}

std::unique_ptr<BackendLock> Store::open(std::string_view name, const Owner& owner) {
  return make_lock(std::static_pointer_cast<Store>(shared_from_this()), name, owner);
}

std::int64_t Store::grant(std::chrono::milliseconds ttl, std::string_view what) {
  const auto reply = client_.call("/v3/lease/grant", {{"TTL", std::to_string(lease_seconds(ttl))}}, what);
  const auto id = int_field(reply, "ID");
  if (id == 0) throw BackendError("etcd: " + std::string(what) + ": lease grant: " + reply.value("error", reply.dump()));
  return id;
}

bool Store::keep_alive(std::int64_t lease, std::string_view what) {
  const auto reply = client_.call_lease("/v3/lease/keepalive", lease_id(lease), what);
  return reply && reply->contains("result") && int_field((*reply)["result"], "TTL") > 0;
}

bool Store::revoke(std::int64_t lease, std::string_view what) {
  return client_.call_lease("/v3/lease/revoke", lease_id(lease), what).has_value();
}

void Store::revoke_quietly(std::int64_t lease) noexcept {
  try {
    revoke(lease, "revoke");
  } catch (...) {  // NOLINT(bugprone-empty-catch): the lease ends by its TTL
  }
}

std::vector<Entry> Store::queue(const std::string& dir, std::int64_t* revision) {
  auto request = prefix_range(dir);
  request["sort_order"] = "ASCEND";
  request["sort_target"] = "CREATE";
  const auto reply = client_.call("/v3/kv/range", request, "range");
  if (revision != nullptr) *revision = int_field(reply.value("header", nlohmann::json::object()), "revision");
  return entries_of(reply);
}

// The holder is the entry with the lowest create revision; the others
// wait. Its time left is the lease's, from the cluster: etcd reports whole
// seconds rounded down, so the report rounds up, never above the lease
// asked for. A lease already gone is no grant.
LockInfo Store::describe(std::string name, const std::vector<Entry>& entries) {
  LockInfo info;
  info.name = std::move(name);
  if (entries.empty()) return info;
  const Entry& head = entries.front();
  info.waiters = entries.size() - 1;
  auto left = std::chrono::milliseconds(baton::forever);
  if (head.ttl != baton::forever) {
    const auto reply = client_.call("/v3/lease/timetolive", lease_id(head.lease), "inspect");
    const auto seconds = int_field(reply, "TTL");
    if (seconds < 0) return info;
    left = std::min(head.ttl, std::chrono::milliseconds((seconds + 1) * 1000));
  }
  info.held = true;
  info.token = static_cast<std::uint64_t>(head.create_revision);
  info.owner = head.owner.id;
  info.host = head.owner.host;
  info.pid = head.owner.pid;
  info.acquired_at = head.queued_at;
  info.expires_in = left;
  return info;
}

LockInfo Store::inspect(std::string_view name) {
  return describe(std::string(name), queue(name_dir(prefix_, name), nullptr));
}

std::vector<LockInfo> Store::list() {
  std::map<std::string, std::vector<Entry>> by_name;
  for (auto& e : queue(prefix_, nullptr)) {
    auto name = name_of_key(prefix_, e.key);
    if (!name.empty()) by_name[std::move(name)].push_back(std::move(e));
  }
  std::vector<LockInfo> out;
  for (auto& [name, entries] : by_name) {
    auto info = describe(name, entries);
    if (info.held) out.push_back(std::move(info));
  }
  return out;
}

// Revoking the holder's lease deletes its key: the holder's next keep-alive
// or revoke finds the lease gone and reports the loss.
bool Store::clear(std::string_view name) {
  const auto entries = queue(name_dir(prefix_, name), nullptr);
  if (entries.empty()) return false;
  return revoke(entries.front().lease, "clear");
}

std::shared_ptr<Backend> make_backend(const Options& options) { return std::make_shared<Store>(options); }

}  // namespace baton::etcd
