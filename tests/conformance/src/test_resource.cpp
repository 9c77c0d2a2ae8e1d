// docs/design.md §1.14 resource locks: the reserved namespace
// "__baton/<kind>/<name>" reaches the backend as ordinary names, excludes
// across processes, and never meets a user lock of the same visible text.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "baton/error.hpp"
#include "baton/name.hpp"
#include "clause.hpp"
#include "support.hpp"

namespace baton::conformance::detail {
void anchor_resource() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;

namespace {

constexpr const char* kind = "conformance";

bool listed_as_held(baton::LockManager& manager, const std::string& name) {
  const auto infos = manager.list();
  return std::any_of(infos.begin(), infos.end(), [&](const baton::LockInfo& i) { return i.name == name && i.held; });
}

}  // namespace

TEST_CASE("resource lock: named __baton/<kind>/<name>, distinct from user locks of the same text",
          "[conformance][resource][names]") {
  CLAUSE_AT("§1.14", "LockManager::resource_lock",
            "a resource lock is the lock named __baton/<kind>/<name>; user locks of the same visible text are "
            "other locks, and no user name reaches it");
  auto manager = make_manager();
  auto rival_manager = make_manager();
  const std::string name = unique_name("resource") + "/part/with/slashes";
  const std::string full = "__baton/" + std::string(kind) + "/" + name;

  auto resource = manager.resource_lock(kind, name);
  CHECK(resource.name() == full);
  REQUIRE(resource.try_acquire());
  auto same_name = rival_manager.lock(name);
  auto same_text = rival_manager.lock(std::string(kind) + "/" + name);
  CHECK(same_name.try_acquire());
  CHECK(same_text.try_acquire());
  CHECK_THROWS_AS(rival_manager.lock(full), baton::InvalidName);
  CHECK_THROWS_AS(rival_manager.lock_set({name, full}), baton::InvalidName);

  const auto info = manager.inspect(full);
  CHECK(info.held);
  CHECK(info.token == resource.token());
  CHECK(listed_as_held(manager, full));

  auto rival = rival_manager.resource_lock(kind, name);
  CHECK_FALSE(rival.try_acquire());
  resource.release();
  CHECK(rival.try_acquire());
  CHECK(rival.token() > info.token);
  CHECK(same_name.holds());
  CHECK(same_text.holds());
  rival.release();
  same_name.release();
  same_text.release();
  CHECK_FALSE(manager.inspect(full).held);
}

TEST_CASE("resource lock: a 1024-byte full name works, and bad kinds never reach the store",
          "[conformance][resource][names]") {
  CLAUSE_AT("§1.14", "LockManager::resource_lock",
            "the name part may fill the 1024-byte limit with its kind; a kind outside [a-z0-9_.-], an empty kind "
            "or name, and a name part one byte over the limit are InvalidName");
  auto manager = make_manager();
  std::string name = unique_name("resource-long") + "/";
  name.resize(baton::max_resource_name_bytes(kind), 'x');
  auto longest = manager.resource_lock(kind, name);
  CHECK(longest.name().size() == baton::max_name_bytes);
  REQUIRE(longest.try_acquire());
  CHECK(manager.inspect(longest.name()).token == longest.token());
  auto rival = make_manager().resource_lock(kind, name);
  CHECK_FALSE(rival.try_acquire());
  longest.release();

  CHECK_THROWS_AS(manager.resource_lock(kind, name + "x"), baton::InvalidName);
  CHECK_THROWS_AS(manager.resource_lock("", "x"), baton::InvalidName);
  CHECK_THROWS_AS(manager.resource_lock("a/b", "x"), baton::InvalidName);
  CHECK_THROWS_AS(manager.resource_lock("Upper", "x"), baton::InvalidName);
  CHECK_THROWS_AS(manager.resource_lock(kind, ""), baton::InvalidName);
}

TEST_CASE("resource lock: 8 processes lose no increment, while user locks of the same text are held",
          "[conformance][resource][exclusion][process]") {
  CLAUSE_AT("§1.14", "LockManager::resource_lock",
            "a resource lock excludes across processes like any lock (§1.1), and user locks of the same visible "
            "text, held meanwhile, neither block it nor are blocked by it");
  TempDir dir;
  const std::string name = unique_name("resource-procs") + "/dict";
  auto manager = make_manager();
  auto same_name = manager.lock(name);
  auto same_text = manager.lock(std::string(kind) + "/" + name);
  REQUIRE(same_name.try_acquire());
  REQUIRE(same_text.try_acquire());
  const auto tokens = run_counter_helpers("resource_counter", {kind, name}, dir, 8, 20);
  CHECK(std::is_sorted(tokens.begin(), tokens.end()));
  CHECK(std::adjacent_find(tokens.begin(), tokens.end()) == tokens.end());
  CHECK(same_name.holds());
  CHECK(same_text.holds());
  same_name.release();
  same_text.release();
}
