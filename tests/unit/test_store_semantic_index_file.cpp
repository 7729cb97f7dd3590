#include "store/semantic/index.hpp"

#include "helpers.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace omnicache::store::semantic;
using omnicache::unit::contains;
using omnicache::unit::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_dim = 24;

std::vector<float>
random_vector(std::mt19937& rng, std::size_t dim = k_dim)
{
  return omnicache::unit::unit_vector(rng, dim);
}

// 1500 vectors in tenant "t", scope "s" (ids 1..1500), ten in another
// tenant, and three of another length in scope "short".
void
fill(Index& index, std::mt19937& rng)
{
  for (std::int64_t id = 1; id <= 1500; ++id) {
    index.add("t", "s", id, random_vector(rng));
  }
  for (std::int64_t id = 2001; id <= 2010; ++id) {
    index.add("other", "s", id, random_vector(rng));
  }
  for (std::int64_t id = 3001; id <= 3003; ++id) {
    index.add("t", "short", id, random_vector(rng, 8));
  }
}

nlohmann::json
read_manifest(const fs::path& dir)
{
  std::ifstream in(dir / "manifest.json");
  return nlohmann::json::parse(in);
}

fs::path
graph_file(const fs::path& dir, const std::string& tenant, const std::string& scope)
{
  const auto manifest = read_manifest(dir);
  for (const auto& graph : manifest["graphs"]) {
    if (graph["tenant"] == tenant && graph["scope"] == scope) {
      return dir / graph["file"].get<std::string>();
    }
  }
  return {};
}

void
overwrite(const fs::path& path, std::uintmax_t offset, std::string_view bytes)
{
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A saved index of `fill` at generation 7, for the tests that damage it.
struct Saved
{
  Saved()
  {
    std::mt19937 rng(11);
    Index index({16, 200, 64});
    fill(index, rng);
    index.save(dir, 7);
  }

  LoadResult load(IndexParams params = {16, 200, 64}, std::int64_t generation = 7) const
  {
    Index index(params);
    auto result = index.load(dir, generation);
    CHECK(index.size() == (result.loaded ? result.vectors : 0));
    return result;
  }

  TempDir temp;
  fs::path dir = temp.path() / "cache.db.semantic";
};

} // namespace

TEST_SUITE("store.semantic.index_file")
{
  TEST_CASE("a saved index loads with the same neighbours")
  {
    std::mt19937 rng(5);
    TempDir temp;
    const auto dir = temp.path() / "cache.db.semantic";
    Index index({16, 200, 64});
    fill(index, rng);
    CHECK(index.save(dir, 42) == index.size());

    Index loaded({16, 200, 64});
    const auto result = loaded.load(dir, 42);
    REQUIRE_MESSAGE(result.loaded, result.reason);
    CHECK(result.vectors == index.size());
    CHECK(loaded.size() == index.size());
    CHECK(loaded.scopes() == index.scopes());
    for (int q = 0; q < 100; ++q) {
      const auto query = random_vector(rng);
      const auto before = index.search("t", "s", query, 5);
      const auto after = loaded.search("t", "s", query, 5);
      REQUIRE(after.size() == before.size());
      for (std::size_t i = 0; i < before.size(); ++i) {
        CHECK(after[i].id == before[i].id);
        CHECK(after[i].similarity == before[i].similarity);
      }
    }
    const auto probe = random_vector(rng, 8);
    CHECK(loaded.search("t", "short", probe, 3).size() == 3);
    CHECK(loaded.search("other", "s", random_vector(rng), 20).size() == 10);
    CHECK(loaded.search("other", "short", probe, 3).empty());

    // A loaded graph takes more vectors as before, past the room it was saved with.
    for (std::int64_t id = 5000; id < 6000; ++id) {
      loaded.add("t", "s", id, random_vector(rng));
    }
    const auto v = random_vector(rng);
    loaded.add("t", "s", 7000, v);
    REQUIRE(loaded.search("t", "s", v, 1).size() == 1);
    CHECK(loaded.search("t", "s", v, 1)[0].id == 7000);
  }

  TEST_CASE("removed vectors stay removed after a load")
  {
    std::mt19937 rng(9);
    TempDir temp;
    const auto dir = temp.path() / "x.semantic";
    Index index({16, 200, 64});
    std::vector<std::vector<float>> points;
    for (std::int64_t id = 1; id <= 600; ++id) {
      points.push_back(random_vector(rng));
      index.add("t", "s", id, points.back());
    }
    for (std::int64_t id = 1; id <= 600; id += 3) {
      index.remove("t", "s", id);
    }
    index.save(dir, 1);

    Index loaded({16, 200, 64});
    REQUIRE(loaded.load(dir, 1).loaded);
    CHECK(loaded.size() == 400);
    for (std::int64_t id = 1; id <= 600; ++id) {
      CHECK(loaded.contains("t", "s", id) == (id % 3 != 1));
    }
    for (std::int64_t id = 1; id <= 600; id += 3) {
      for (const auto& n : loaded.search("t", "s", points[static_cast<std::size_t>(id) - 1], 10)) {
        CHECK(n.id % 3 != 1);
      }
    }
    // Removing a loaded vector, or one removed before the save, is safe.
    loaded.remove("t", "s", 2);
    loaded.remove("t", "s", 1);
    CHECK(loaded.size() == 399);
  }

  TEST_CASE("keep_only drops the labels whose entries are gone")
  {
    std::mt19937 rng(2);
    Index index({});
    for (std::int64_t id = 1; id <= 50; ++id) {
      index.add("t", id % 2 == 0 ? "even" : "odd", id, random_vector(rng));
    }
    std::vector<std::int64_t> ids;
    for (std::int64_t id = 1; id <= 50; id += 5) {
      ids.push_back(id);
    }
    // 47 to 50 are above the last id read: added since, so kept.
    CHECK(index.keep_only(ids) == 36);
    CHECK(index.size() == 14);
    CHECK(index.contains("t", "odd", 11));
    CHECK(index.contains("t", "even", 16));
    CHECK_FALSE(index.contains("t", "odd", 13));
    CHECK_FALSE(index.contains("t", "even", 11));
    CHECK(index.keep_only(ids) == 0);
  }

  TEST_CASE("a save replaces the files of the previous one")
  {
    std::mt19937 rng(4);
    TempDir temp;
    const auto dir = temp.path() / "db.semantic";
    Index first({});
    fill(first, rng);
    first.save(dir, 1);
    Index second({});
    second.add("t", "s", 1, random_vector(rng));
    second.add("t", "gone", 2, random_vector(rng));
    second.remove("t", "gone", 2); // a graph with nothing left is not written
    second.save(dir, 2);
    std::set<std::string> names;
    for (const auto& item : fs::directory_iterator(dir)) {
      names.insert(item.path().filename().string());
    }
    CHECK(names == std::set<std::string>{"manifest.json", "graph-0.hnsw"});
    const auto manifest = read_manifest(dir);
    CHECK(manifest["generation"] == 2);
    CHECK(manifest["m"] == 16);
    CHECK(manifest["ef_construction"] == 200);
    REQUIRE(manifest["graphs"].size() == 1);
    CHECK(manifest["graphs"][0]["dim"] == k_dim);
    CHECK(manifest["graphs"][0]["elements"] == 1);
    Index loaded({});
    REQUIRE(loaded.load(dir, 2).loaded);
    CHECK(loaded.size() == 1);
    CHECK(loaded.scopes() == 1);
  }

  TEST_CASE("a save of another generation or with other parameters is refused")
  {
    Saved saved;
    REQUIRE(saved.load().loaded);
    const auto stale = saved.load({16, 200, 64}, 8);
    CHECK_FALSE(stale.loaded);
    CHECK(contains(stale.reason, "generation 7"));
    const auto m = saved.load({8, 200, 64});
    CHECK_FALSE(m.loaded);
    CHECK(contains(m.reason, "m = 16"));
    CHECK_FALSE(saved.load({16, 100, 64}).loaded);
    // ef is a search setting: a save serves any.
    CHECK(saved.load({16, 200, 10}).loaded);
  }

  TEST_CASE("a missing, truncated or damaged file is refused without harm")
  {
    Saved saved;
    const auto graph = graph_file(saved.dir, "t", "s");
    REQUIRE_FALSE(graph.empty());
    const auto size = fs::file_size(graph);

    SUBCASE("no folder")
    {
      fs::remove_all(saved.dir);
      const auto result = saved.load();
      CHECK_FALSE(result.loaded);
      CHECK(result.reason == "no saved index");
    }
    SUBCASE("a graph file missing")
    {
      fs::remove(graph);
      const auto result = saved.load();
      CHECK_FALSE(result.loaded);
      CHECK(contains(result.reason, "No such file"));
    }
    SUBCASE("a truncated graph file")
    {
      fs::resize_file(graph, size / 2);
      const auto result = saved.load();
      CHECK_FALSE(result.loaded);
      CHECK(contains(result.reason, "bytes"));
    }
    SUBCASE("a truncated graph file, its manifest updated to match")
    {
      fs::resize_file(graph, size - 100);
      auto manifest = read_manifest(saved.dir);
      for (auto& item : manifest["graphs"]) {
        if (saved.dir / item["file"].get<std::string>() == graph) {
          item["bytes"] = size - 100;
        }
      }
      std::ofstream(saved.dir / "manifest.json") << manifest.dump();
      const auto result = saved.load();
      CHECK_FALSE(result.loaded);
      CHECK(contains(result.reason, "ends early"));
    }
    SUBCASE("a damaged header: absurd counts and sizes")
    {
      overwrite(graph, 8, std::string(24, '\xff'));
      CHECK_FALSE(saved.load().loaded);
    }
    SUBCASE("a damaged byte in the middle")
    {
      overwrite(graph, size / 2, "\x5a\xa5");
      const auto result = saved.load();
      CHECK_FALSE(result.loaded);
      CHECK(contains(result.reason, "checksum"));
    }
    SUBCASE("a manifest that is not JSON")
    {
      std::ofstream(saved.dir / "manifest.json") << "{\"format\": 1, \"generation\": 7, \"gra";
      const auto result = saved.load();
      CHECK_FALSE(result.loaded);
      CHECK(contains(result.reason, "not a JSON object"));
    }
    SUBCASE("a manifest of another format")
    {
      auto manifest = read_manifest(saved.dir);
      manifest["format"] = 99;
      std::ofstream(saved.dir / "manifest.json") << manifest.dump();
      CHECK_FALSE(saved.load().loaded);
    }
    SUBCASE("a manifest with fields of the wrong type")
    {
      auto manifest = read_manifest(saved.dir);
      manifest["graphs"][0]["dim"] = "many";
      std::ofstream(saved.dir / "manifest.json") << manifest.dump();
      CHECK_FALSE(saved.load().loaded);
    }
    SUBCASE("a manifest naming a file outside its folder")
    {
      auto manifest = read_manifest(saved.dir);
      manifest["graphs"][0]["file"] = "../cache.db";
      std::ofstream(saved.dir / "manifest.json") << manifest.dump();
      CHECK(contains(saved.load().reason, "names a file"));
    }
    SUBCASE("a manifest giving the wrong dimensions")
    {
      auto manifest = read_manifest(saved.dir);
      for (auto& item : manifest["graphs"]) {
        item["dim"] = item["dim"].get<int>() + 1;
      }
      std::ofstream(saved.dir / "manifest.json") << manifest.dump();
      CHECK_FALSE(saved.load().loaded);
    }
    SUBCASE("an empty manifest")
    {
      std::ofstream(saved.dir / "manifest.json").flush();
      CHECK_FALSE(saved.load().loaded);
    }
  }

  TEST_CASE("a failed load leaves the index as it was")
  {
    Saved saved;
    fs::resize_file(graph_file(saved.dir, "t", "short"), 10);
    std::mt19937 rng(1);
    Index index({16, 200, 64});
    index.add("t", "s", 1, random_vector(rng));
    CHECK_FALSE(index.load(saved.dir, 7).loaded);
    CHECK(index.size() == 1);
    CHECK(index.contains("t", "s", 1));
  }
}
