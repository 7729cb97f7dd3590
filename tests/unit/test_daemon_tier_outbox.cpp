#include "daemon/tier/outbox.hpp"

#include "helpers.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

using namespace omnicache::daemon::tier;
using omnicache::unit::TempDir;

namespace {

std::string
read_all(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string
error_of(const std::string& path)
{
  try {
    load_outbox(path);
  } catch (const OutboxError& e) {
    return e.what();
  }
  return "no error";
}

} // namespace

TEST_SUITE("daemon.tier.outbox")
{
  TEST_CASE("what is saved loads back word for word, binary words and flags included")
  {
    TempDir dir;
    const auto path = dir.file("cache.db.tier-outbox");
    const std::string binary("a\0b\r\n*2\r\n", 10);
    Outbox saved{"oc:", "00ff00ff00ff00ff",
                 {{{{"EVAL", "return 1", "1", "oc:t:tag"}, {"XADD", "oc:log", "*", "o", binary}}, true, true},
                  {{{"DEL", binary}}, false, false},
                  {{{"XADD", "oc:log", "*", "k", ""}}, true, false}}};
    save_outbox(path, saved);
    CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

    const auto loaded = load_outbox(path);
    REQUIRE(loaded);
    CHECK(loaded->prefix == "oc:");
    CHECK(loaded->origin == "00ff00ff00ff00ff");
    REQUIRE(loaded->items.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(loaded->items[i].commands == saved.items[i].commands);
      CHECK(loaded->items[i].invalidation == saved.items[i].invalidation);
      CHECK(loaded->items[i].own_removal == saved.items[i].own_removal);
    }
    // RESP, as Redis reads it: the header is a command of four bulk strings.
    CHECK(read_all(path).starts_with("*4\r\n$21\r\nomnicache-tier-outbox\r\n$1\r\n1\r\n$3\r\noc:\r\n"));
  }

  TEST_CASE("an outbox with no items loads as such, and no file as nothing")
  {
    TempDir dir;
    const auto path = dir.file("outbox");
    CHECK_FALSE(load_outbox(path));
    save_outbox(path, {"p:", "o", {}});
    const auto loaded = load_outbox(path);
    REQUIRE(loaded);
    CHECK(loaded->items.empty());
  }

  TEST_CASE("a file that is not an outbox names what is wrong")
  {
    TempDir dir;
    const auto full = [&] {
      const auto path = dir.file("good");
      save_outbox(path, {"p:", "o", {{{{"DEL", "p:k"}}, false, false}}});
      return read_all(path);
    }();

    CHECK(error_of(dir.write("empty", "")).find("does not start with the omnicache-tier-outbox header")
          != std::string::npos);
    CHECK(error_of(dir.write("text", "DEL k\n")).find("is not an outbox file: not RESP") != std::string::npos);
    CHECK(error_of(dir.write("cut", full.substr(0, full.size() - 3))).find("cut short after 1 complete values")
          != std::string::npos);
    CHECK(error_of(dir.write("other", "*2\r\n$3\r\nfoo\r\n$1\r\n1\r\n")).find("does not start with")
          != std::string::npos);
    CHECK(error_of(dir.write("v2", "*2\r\n$21\r\nomnicache-tier-outbox\r\n$1\r\n2\r\n"))
            .find("an outbox file of version 2; this daemon reads version 1")
          != std::string::npos);
    const std::string header = full.substr(0, full.find("*2\r\n:"));
    CHECK(error_of(dir.write("no-flags", header + "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"))
            .find("item 1 is not flags followed by commands")
          != std::string::npos);
    CHECK(error_of(dir.write("bad-command", header + "*2\r\n:0\r\n$3\r\nDEL\r\n"))
            .find("command 1 of item 1 is not a list of words")
          != std::string::npos);
  }

  TEST_CASE("an unwritable place is an error that names it, and leaves nothing behind")
  {
    TempDir dir;
    const auto path = dir.file("missing-folder/outbox");
    CHECK_THROWS_WITH_AS(save_outbox(path, {"p:", "o", {}}), doctest::Contains("missing-folder/outbox.tmp"),
                         std::runtime_error);
    CHECK_FALSE(std::filesystem::exists(dir.file("missing-folder")));
  }
}
