#include "daemon/tier/follower.hpp"
#include "daemon/tier/keys.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace omnicache::daemon::tier;

namespace {

RedisReply
text(std::string value)
{
  RedisReply reply;
  reply.type = RedisReply::Type::string;
  reply.text = std::move(value);
  return reply;
}

RedisReply
integer(std::int64_t value)
{
  RedisReply reply;
  reply.type = RedisReply::Type::integer;
  reply.integer = value;
  return reply;
}

RedisReply
array(std::vector<RedisReply> elements)
{
  RedisReply reply;
  reply.type = RedisReply::Type::array;
  reply.elements = std::move(elements);
  return reply;
}

// What the lookup script answers for a stored hash and its PTTL.
RedisReply
found(std::vector<std::pair<std::string, std::string>> fields, std::int64_t ttl)
{
  std::vector<RedisReply> flat;
  for (auto& [name, value] : fields) {
    flat.push_back(text(name));
    flat.push_back(text(value));
  }
  return array({array(std::move(flat)), integer(ttl)});
}

} // namespace

TEST_SUITE("daemon.tier.keys")
{
  TEST_CASE("every key of a tenant carries the tenant as its hash tag")
  {
    const Keys keys("oc:");
    CHECK(keys.entry("acme", "k1") == "oc:{acme}:e:k1");
    CHECK(keys.tag("acme", "model:gpt") == "oc:{acme}:t:model:gpt");
    CHECK(keys.dep("acme", "doc.md") == "oc:{acme}:d:doc.md");
    CHECK(keys.log() == "oc:log");
    CHECK(keys.epoch() == "oc:epoch");
  }

  TEST_CASE("no two tenants share a key, whatever their names hold")
  {
    const Keys keys("oc:");
    // Without escaping, tenant "a" with key "x}:e:y" and tenant "a}:e:x" with key "y" would meet.
    CHECK(keys.entry("a", "x}:e:y") != keys.entry("a}:e:x", "y"));
    CHECK(keys.entry("a}:e:x", "y") == "oc:{a%7D%3Ae%3Ax}:e:y");
    std::set<std::string> seen;
    for (const std::string tenant : {"a", "a:", "a%3A", "a{", "a}", "{a}", "a%"}) {
      CAPTURE(tenant);
      CHECK(seen.insert(keys.entry(tenant, "k")).second);
    }
  }

  TEST_CASE("a set is one script over the entry and its tag and dependency sets")
  {
    const Keys keys("oc:");
    omnicache::store::EntryWrite entry;
    entry.tenant = "t";
    entry.layer = "response";
    entry.key = "k";
    entry.value = std::string("v\0w", 3);
    entry.ttl_ms = 60000;
    entry.tags = {"a", "b"};
    entry.deps = {{"doc", "v2"}};
    entry.meta = R"({"model":"m"})";
    const auto command = keys.set(entry);
    REQUIRE(command.size() == 3 + 4 + 7);
    CHECK(command[0] == "EVAL");
    CHECK(command[2] == "4");
    CHECK(command[3] == "oc:{t}:e:k");
    CHECK(command[4] == "oc:{t}:t:a");
    CHECK(command[5] == "oc:{t}:t:b");
    CHECK(command[6] == "oc:{t}:d:doc");
    CHECK(command[7] == std::string("v\0w", 3)); // binary values go as they are
    CHECK(command[8] == "response");
    CHECK(command[9] == R"({"model":"m"})");
    CHECK(command[10] == R"(["a","b"])");
    CHECK(command[11] == R"([{"name":"doc","version":"v2"}])");
    CHECK(command[12] == "60000");
    CHECK(command[command.size() - Keys::k_set_ttl_from_end] == "60000");
    CHECK(command[13] == "k");
  }

  TEST_CASE("a lookup reply becomes the entry, expiring when what was left of its TTL runs out")
  {
    const auto entry = parse_lookup(found({{"v", "hello"},
                                           {"l", "kv"},
                                           {"m", ""},
                                           {"t", R"(["x"])"},
                                           {"d", R"([{"name":"doc","version":"#1"}])"}},
                                          1500),
                                    1'000'000);
    REQUIRE(entry);
    CHECK(entry->value == "hello");
    CHECK(entry->layer == "kv");
    CHECK(entry->tags == std::vector<std::string>{"x"});
    REQUIRE(entry->deps.size() == 1);
    CHECK(entry->deps[0].name == "doc");
    CHECK(entry->deps[0].version == "#1");
    CHECK(entry->expires_ms == 1'001'500); // counted from when the lookup was sent: never later than Redis's
    // -1: no expiry.
    CHECK(parse_lookup(found({{"v", "x"}, {"l", "kv"}}, -1), 1'000'000)->expires_ms == 0);
  }

  TEST_CASE("a missing, expiring or foreign hash is no entry")
  {
    CHECK_FALSE(parse_lookup(RedisReply{}, 0));                                     // nil: not there
    CHECK_FALSE(parse_lookup(found({{"v", "x"}, {"l", "kv"}}, 0), 0));              // expires this very moment
    CHECK_FALSE(parse_lookup(found({{"v", "x"}}, -1), 0));                          // no layer: not ours
    CHECK_FALSE(parse_lookup(found({{"l", "kv"}}, -1), 0));                         // no value
    CHECK_FALSE(parse_lookup(found({{"v", "x"}, {"l", "kv"}, {"t", "{"}}, -1), 0)); // damaged tags
    CHECK_FALSE(parse_lookup(array({text("x")}), 0));
  }

  TEST_CASE("every kind of invalidation goes into the log and comes back the same")
  {
    Invalidation keys_change;
    keys_change.tenant = "t";
    keys_change.keys = {"a", "b"};
    Invalidation selector_change;
    selector_change.kind = Invalidation::Kind::selector;
    selector_change.tenant = "t";
    selector_change.selector.tags = {"x"};
    selector_change.selector.pattern = "p/*";
    selector_change.selector.layer = "kv";
    Invalidation deps_change;
    deps_change.kind = Invalidation::Kind::deps;
    deps_change.tenant = "t";
    deps_change.deps = {"doc"};
    deps_change.version = "#1.2.3";
    Invalidation flush_change;
    flush_change.kind = Invalidation::Kind::flush;
    flush_change.tenant = "t";
    flush_change.all_tenants = true;
    for (const auto& change : {keys_change, selector_change, deps_change, flush_change}) {
      const auto back = decode_invalidation(encode_invalidation(change));
      REQUIRE(back);
      CHECK(back->kind == change.kind);
      CHECK(back->tenant == change.tenant);
      CHECK(back->keys == change.keys);
      CHECK(back->selector.tags == change.selector.tags);
      CHECK(back->selector.pattern == change.selector.pattern);
      CHECK(back->selector.layer == change.selector.layer);
      CHECK(back->deps == change.deps);
      CHECK(back->version == change.version);
      CHECK(back->all_tenants == change.all_tenants);
    }
    CHECK_FALSE(decode_invalidation("not json"));
    CHECK_FALSE(decode_invalidation(R"({"tenant":"t"})"));
    CHECK_FALSE(decode_invalidation(R"({"keys":["a"]})"));
  }

  TEST_CASE("each invalidation ends with its log record, after what removes the entries")
  {
    const Keys keys("oc:");
    Invalidation change;
    change.tenant = "t";
    change.keys = {"a"};
    auto commands = keys.invalidate(change, "me", 1000);
    REQUIRE(commands.size() == 2);
    CHECK(commands[0] == RedisCommand{"DEL", "oc:{t}:e:a"});
    CHECK(commands[1] == RedisCommand{"XADD", "oc:log", "MAXLEN", "~", "1000", "*", "o", "me", "c",
                                      encode_invalidation(change)});

    change.kind = Invalidation::Kind::flush;
    commands = keys.invalidate(change, "me", 1000);
    CHECK(commands[0].back() == "oc:{t}:*");
    change.all_tenants = true;
    commands = keys.invalidate(change, "me", 1000);
    CHECK(commands[0].back() == "oc:{*"); // not the log nor the epoch

    // A pattern is matched by SCAN; literal glob characters of the prefix are escaped.
    const Keys odd("a*b:");
    change = Invalidation{};
    change.kind = Invalidation::Kind::selector;
    change.tenant = "t";
    change.selector.pattern = "p?";
    commands = odd.invalidate(change, "me", 1000);
    // No tags: one key of the tenant only routes the script; SCAN alone matches the pattern.
    REQUIRE(commands[0].size() == 3 + 1 + 5);
    CHECK(commands[0][2] == "1");
    CHECK(commands[0][3] == "a*b:{t}:");
    CHECK(commands[0][4] == "a*b:{t}:e:");
    CHECK(commands[0][5] == "a\\*b:{t}:e:p?");
    CHECK(commands[0][6].empty());
    CHECK(commands[0][8] == "0");
  }

  TEST_CASE("a glob becomes the anchored Lua pattern that matches the same keys")
  {
    CHECK(glob_to_lua("*") == "^.*$");
    CHECK(glob_to_lua("user:?") == "^user:.$");
    CHECK(glob_to_lua("a.b-c+d%e(f)") == "^a%.b%-c%+d%%e%(f%)$");
    CHECK(glob_to_lua("[abc]x") == "^[abc]x$");
    CHECK(glob_to_lua("[^0-9]") == "^[^0-9]$");
    CHECK(glob_to_lua("[]x]") == "^[%]x]$");
    CHECK(glob_to_lua("[%]") == "^[%%]$");
    CHECK(glob_to_lua("a[") == "^a%[$");
  }

  TEST_CASE("stream ids compare by time, then sequence")
  {
    CHECK(compare_stream_ids("1-0", "1-0") == 0);
    CHECK(compare_stream_ids("1-1", "1-0") > 0);
    CHECK(compare_stream_ids("9-5", "10-0") < 0);
    CHECK(compare_stream_ids("0-0", "1700000000000-0") < 0);
  }
}
