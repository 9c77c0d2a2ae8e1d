// The naming rule of resource locks (docs/design.md §1.14): the full name,
// the kind's alphabet, the name part's limit, and the round trip through
// parse_resource_lock_name(). Pure functions: no backend.
#include <string>

#include <catch2/catch.hpp>

#include "baton/error.hpp"
#include "baton/name.hpp"

using namespace std::string_literals;
using Catch::Matchers::Contains;

TEST_CASE("a resource lock's full name is __baton/<kind>/<name>") {
  CHECK(baton::resource_lock_name("table", "dict") == "__baton/table/dict");
  CHECK(baton::resource_lock_name("queue", "tasks") == "__baton/queue/tasks");
  CHECK(baton::resource_lock_name("a-b_c.9", "x") == "__baton/a-b_c.9/x");
  // The full name is a reserved name: users cannot name it directly.
  const auto full = baton::resource_lock_name("list", "jobs");
  CHECK_THROWS_AS(baton::validate_name(full), baton::InvalidName);
  CHECK_NOTHROW(baton::validate_name(full, /*allow_reserved=*/true));
}

TEST_CASE("a resource lock's name part may contain the separator and any byte") {
  CHECK(baton::resource_lock_name("table", "a/b/c") == "__baton/table/a/b/c");
  CHECK(baton::resource_lock_name("table", "/") == "__baton/table//");
  CHECK(baton::resource_lock_name("table", "__baton/x") == "__baton/table/__baton/x");
  CHECK(baton::resource_lock_name("table", "nul\0byte"s) == "__baton/table/nul\0byte"s);
  CHECK(baton::resource_lock_name("table", "'; DROP TABLE x; -- \xff") == "__baton/table/'; DROP TABLE x; -- \xff");
}

TEST_CASE("a resource lock kind is 1 to 64 bytes of [a-z0-9_.-]") {
  CHECK_THROWS_AS(baton::resource_lock_name("", "dict"), baton::InvalidName);
  CHECK_THROWS_AS(baton::resource_lock_name("ta/ble", "dict"), baton::InvalidName);
  CHECK_THROWS_AS(baton::resource_lock_name("table/", "dict"), baton::InvalidName);
  CHECK_THROWS_AS(baton::resource_lock_name("/", "dict"), baton::InvalidName);
  CHECK_THROWS_AS(baton::resource_lock_name("Table", "dict"), baton::InvalidName);
  CHECK_THROWS_AS(baton::resource_lock_name("my table", "dict"), baton::InvalidName);
  CHECK_THROWS_AS(baton::resource_lock_name("t\0b"s, "dict"), baton::InvalidName);
  CHECK_THROWS_AS(baton::resource_lock_name("caf\xc3\xa9", "dict"), baton::InvalidName);
  CHECK_NOTHROW(baton::resource_lock_name(std::string(64, 'k'), "dict"));
  CHECK_THROWS_AS(baton::resource_lock_name(std::string(65, 'k'), "dict"), baton::InvalidName);
  CHECK_THROWS_AS(baton::resource_lock_name("ta/ble", "dict"), baton::InvalidName);
  CHECK_THROWS_WITH(baton::resource_lock_name("ta/ble", "dict"),
                    Contains("kind") && Contains("0x2f at offset 2") && Contains("[a-z0-9_.-]"));
}

TEST_CASE("a resource lock's name part is non-empty and fits the 1024-byte limit with its kind") {
  CHECK_THROWS_AS(baton::resource_lock_name("table", ""), baton::InvalidName);
  CHECK(baton::max_resource_name_bytes("table") == 1010);
  CHECK(baton::max_resource_name_bytes("k") == 1014);
  const std::string at_limit(baton::max_resource_name_bytes("table"), 'n');
  const auto full = baton::resource_lock_name("table", at_limit);
  CHECK(full.size() == baton::max_name_bytes);
  CHECK_NOTHROW(baton::validate_name(full, /*allow_reserved=*/true));
  const std::string one_over = at_limit + "n";
  CHECK_THROWS_AS(baton::resource_lock_name("table", one_over), baton::InvalidName);
  // The longest kind leaves 951 bytes.
  const std::string kind(baton::max_resource_kind_bytes, 'k');
  CHECK(baton::max_resource_name_bytes(kind) == 951);
  CHECK(baton::resource_lock_name(kind, std::string(951, 'n')).size() == baton::max_name_bytes);
  CHECK_THROWS_AS(baton::resource_lock_name(kind, std::string(952, 'n')), baton::InvalidName);
  CHECK_THROWS_WITH(baton::resource_lock_name("table", one_over), Contains("1011 bytes") && Contains("limit is 1010"));
}

TEST_CASE("parse_resource_lock_name reads back exactly what resource_lock_name made") {
  for (const auto& [kind, name] : {std::pair{"table"s, "dict"s}, {"a"s, "b/c"s}, {"q.1-x_"s, "//"s},
                                   {"table"s, "nul\0byte"s}, {"table"s, std::string(1010, 'z')}}) {
    const auto full = baton::resource_lock_name(kind, name);
    const auto parts = baton::parse_resource_lock_name(full);
    REQUIRE(parts.has_value());
    CHECK(parts->kind == kind);
    CHECK(parts->name == name);
  }
  // ("a", "b/c") and ("a/b", "c") would read alike; only the first exists.
  CHECK(baton::parse_resource_lock_name("__baton/a/b/c")->kind == "a");
  CHECK_THROWS_AS(baton::resource_lock_name("a/b", "c"), baton::InvalidName);
  for (const auto& other : {"dict"s, "table/dict"s, "__baton"s, "__baton/"s, "__baton/table"s, "__baton/table/"s,
                            "__baton//dict"s, "__baton/Table/dict"s, "__baton.ticket"s, "__baton.fence-install"s,
                            "__batontable/dict"s, " __baton/table/dict"s, "__baton/" + std::string(65, 'k') + "/n",
                            "__baton/table/" + std::string(1011, 'z')}) {
    INFO("name " << other);
    CHECK_FALSE(baton::parse_resource_lock_name(other).has_value());
  }
}

TEST_CASE("user names under the reserved prefix are refused with a message naming resource_lock") {
  for (const auto& reserved : {"__baton"s, "__baton/table/dict"s, "__baton.ticket"s, "__batonx"s}) {
    INFO("name " << reserved);
    CHECK_THROWS_AS(baton::validate_name(reserved), baton::InvalidName);
  }
  CHECK_THROWS_WITH(baton::validate_name("__baton/table/dict"), Contains("resource_lock(kind, name)"));
}
