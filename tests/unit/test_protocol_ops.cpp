#include "protocol/error.hpp"
#include "protocol/ops/ops.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

using namespace omnicache::protocol;
using namespace omnicache::protocol::ops;

namespace {

// PROTOCOL.md's section 5, one text per operation (### 5.N `op`).
std::map<std::string, std::string>
protocol_sections()
{
  std::ifstream in(OMNICACHE_PROTOCOL_MD);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  const auto begin = all.find("\n## 5. Operations");
  const auto end = all.find("\n## 6. ");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  const std::string ops = all.substr(begin, end - begin);
  std::map<std::string, std::string> sections;
  const std::regex heading(R"(\n### 5\.\d+ `([a-z_]+)`)");
  std::vector<std::pair<std::string, std::size_t>> starts;
  for (auto it = std::sregex_iterator(ops.begin(), ops.end(), heading); it != std::sregex_iterator(); ++it) {
    starts.emplace_back((*it)[1].str(), static_cast<std::size_t>(it->position()));
  }
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const auto stop = i + 1 < starts.size() ? starts[i + 1].second : ops.size();
    sections[starts[i].first] = ops.substr(starts[i].second, stop - starts[i].second);
  }
  sections["(table)"] = ops.substr(0, starts.empty() ? ops.size() : starts.front().second);
  return sections;
}

// The sections an operation's text refers to for its fields ("as for `set`").
bool
documents(const std::map<std::string, std::string>& sections, std::string_view op, std::string_view field)
{
  const std::string quoted = "`" + std::string(field) + "`";
  const std::string& own = sections.at(std::string(op));
  if (own.find(quoted) != std::string::npos) {
    return true;
  }
  // Fields shared with another operation are named in its section.
  for (const auto& [name, text] : sections) {
    if (name != op && own.find("`" + name + "`") != std::string::npos && text.find(quoted) != std::string::npos) {
      return true;
    }
  }
  return false;
}

} // namespace

TEST_SUITE("protocol.ops")
{
  TEST_CASE("PROTOCOL.md has a section for every operation and no other")
  {
    const auto sections = protocol_sections();
    std::set<std::string> documented;
    for (const auto& [name, text] : sections) {
      if (name != "(table)") {
        documented.insert(name);
      }
    }
    std::set<std::string> ours;
    for (const auto& op : op_table()) {
      ours.insert(std::string(op.name));
    }
    CHECK(documented == ours);
  }

  TEST_CASE("PROTOCOL.md's operation table gives each operation's kind and summary")
  {
    const auto table = protocol_sections().at("(table)");
    for (const auto& op : op_table()) {
      CAPTURE(op.name);
      const std::string row = "| [`" + std::string(op.name) + "`](";
      const auto at = table.find(row);
      REQUIRE(at != std::string::npos);
      const auto line = table.substr(at, table.find('\n', at) - at);
      CHECK(line.find("| " + std::string(kind_name(op.kind)) + " |") != std::string::npos);
      CHECK(line.find("| " + std::string(op.summary) + " |") != std::string::npos);
    }
  }

  TEST_CASE("PROTOCOL.md names every request and reply field of every operation")
  {
    const auto sections = protocol_sections();
    for (const auto& op : op_table()) {
      for (const auto name : op.request_fields()) {
        CAPTURE(op.name);
        CAPTURE(name);
        CHECK(documents(sections, op.name, name));
      }
      for (const auto name : op.reply_fields()) {
        CAPTURE(op.name);
        CAPTURE(name);
        CHECK(documents(sections, op.name, name));
      }
    }
  }

  TEST_CASE("PROTOCOL.md lists every capability")
  {
    std::ifstream in(OMNICACHE_PROTOCOL_MD);
    std::stringstream text;
    text << in.rdbuf();
    const std::string all = text.str();
    const auto section = all.substr(all.find("### 8.2 Capabilities"));
    for (const auto name : capabilities()) {
      CAPTURE(name);
      CHECK(section.find("`" + std::string(name) + "`") != std::string::npos);
    }
  }

  TEST_CASE("every operation but hello, ping and shutdown has a capability the server announces")
  {
    for (const auto& op : op_table()) {
      CAPTURE(op.name);
      if (op.capability.empty()) {
        CHECK((op.name == "hello" || op.name == "ping" || op.name == "shutdown"));
      } else {
        CHECK(has_capability(op.capability));
      }
    }
    CHECK_FALSE(has_capability("time-travel"));
  }

  TEST_CASE("a request leaves out the fields at their defaults")
  {
    SetRequest set;
    set.key = "k";
    CHECK(to_header(set) == Json{{"key", "k"}});
    set.tags = {"a"};
    set.ttl_ms = 0;
    set.only_missing = true;
    set.meta = Json{{"model", "m"}};
    CHECK(to_header(set) == Json{{"key", "k"}, {"tags", {"a"}}, {"ttl_ms", 0}, {"only_missing", true},
                                 {"meta", {{"model", "m"}}}});
  }

  TEST_CASE("a request reads back as it was written")
  {
    GetOrLeaseRequest request;
    request.tenant = "t";
    request.key = "k";
    request.lease_ms = 5;
    const auto back = decode<GetOrLeaseRequest>(to_header(request));
    CHECK(back.tenant == request.tenant);
    CHECK(back.key == "k");
    CHECK_FALSE(back.layer);
    CHECK(back.lease_ms == 5);
    CHECK_FALSE(back.wait_ms);
  }

  TEST_CASE("a reply writes every member but the empty optionals, and null where it says so")
  {
    GetReply miss;
    CHECK(to_reply_header(miss) == Json{{"found", false}});
    GetReply hit;
    hit.found = true;
    hit.layer = "kv";
    hit.expires_ms = std::optional<std::int64_t>{};
    CHECK(to_reply_header(hit) == Json{{"found", true}, {"layer", "kv"}, {"expires_ms", nullptr}});
    const auto back = decode<GetReply>(to_reply_header(hit));
    REQUIRE(back.expires_ms.has_value());
    CHECK_FALSE(back.expires_ms->has_value());
    ExpireReply expire;
    CHECK(to_reply_header(expire) == Json{{"found", false}, {"ttl_ms", nullptr}});
    StatsResetReply reset;
    CHECK(to_reply_header(reset) == Json{{"tenant", nullptr}});
  }

  TEST_CASE("a field of the wrong type is refused naming the field")
  {
    CHECK_THROWS_WITH_AS(decode<GetRequest>(Json{{"key", 5}}), doctest::Contains("'key'"), Error);
    CHECK_THROWS_WITH_AS(decode<GetRequest>(Json::object()), "missing field 'key'", Error);
    CHECK_THROWS_WITH_AS(decode<KeysRequest>(Json{{"limit", "ten"}}), doctest::Contains("'limit'"), Error);
    CHECK_THROWS_WITH_AS(decode<SetRequest>(Json{{"key", "k"}, {"tags", {1}}}), doctest::Contains("'tags'"), Error);
    CHECK_THROWS_WITH_AS(decode<FlushRequest>(Json{{"all_tenants", 1}}), doctest::Contains("'all_tenants'"),
                         Error);
    try {
      decode<ExistsRequest>(Json{{"key", true}});
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::bad_request);
    }
  }

  TEST_CASE("null reads as absent, and a value-or-null member keeps the null")
  {
    const auto request = decode<GetRequest>(Json{{"key", "k"}, {"layer", nullptr}});
    CHECK_FALSE(request.layer);
    const auto reply = decode<ExpireReply>(Json{{"found", true}, {"ttl_ms", 10}});
    CHECK(reply.ttl_ms == std::optional<std::int64_t>{10});
  }
}
