#include "store/semantic/index.hpp"

#include "helpers.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace omnicache::store::semantic;
using omnicache::unit::unit_vector;

namespace {

float
dot(const std::vector<float>& a, const std::vector<float>& b)
{
  float sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sum += a[i] * b[i];
  }
  return sum;
}

} // namespace

TEST_SUITE("store.semantic.index")
{
  TEST_CASE("nearest neighbours agree with brute force, most similar first")
  {
    std::mt19937 rng(7);
    constexpr std::size_t k_dim = 32;
    Index index({16, 200, 64});
    std::vector<std::vector<float>> points;
    for (std::int64_t id = 1; id <= 3000; ++id) {
      points.push_back(unit_vector(rng, k_dim));
      index.add("t", "s", id, points.back());
    }
    CHECK(index.size() == 3000);
    int agree = 0;
    constexpr int k_queries = 200;
    for (int q = 0; q < k_queries; ++q) {
      const auto query = unit_vector(rng, k_dim);
      std::int64_t best = 0;
      float best_score = -2;
      for (std::size_t i = 0; i < points.size(); ++i) {
        if (const float score = dot(query, points[i]); score > best_score) {
          best_score = score;
          best = static_cast<std::int64_t>(i) + 1;
        }
      }
      const auto found = index.search("t", "s", query, 5);
      REQUIRE(found.size() == 5);
      for (std::size_t i = 1; i < found.size(); ++i) {
        CHECK(found[i - 1].similarity >= found[i].similarity);
      }
      CHECK(found[0].similarity == doctest::Approx(dot(query, points[static_cast<std::size_t>(found[0].id) - 1])));
      agree += found[0].id == best ? 1 : 0;
    }
    CHECK(agree >= k_queries * 95 / 100);
  }

  TEST_CASE("tenants and scopes are separate indexes")
  {
    std::mt19937 rng(1);
    Index index({});
    const auto v = unit_vector(rng, 8);
    index.add("t1", "s", 1, v);
    CHECK(index.search("t2", "s", v, 3).empty());
    CHECK(index.search("t1", "other", v, 3).empty());
    REQUIRE(index.search("t1", "s", v, 3).size() == 1);
    CHECK(index.search("t1", "s", v, 3)[0].similarity == doctest::Approx(1.0f));
    // A vector of another length in the same scope is ignored, and so is a query of one.
    index.add("t1", "s", 2, unit_vector(rng, 9));
    CHECK(index.size() == 1);
    CHECK(index.search("t1", "s", unit_vector(rng, 9), 3).empty());
    CHECK(index.scopes() == 1);
  }

  TEST_CASE("removed vectors are never returned, and the room they took is reused")
  {
    std::mt19937 rng(3);
    Index index({8, 100, 32});
    std::vector<std::vector<float>> points;
    for (std::int64_t id = 1; id <= 1024; ++id) {
      points.push_back(unit_vector(rng, 16));
      index.add("t", "s", id, points.back());
    }
    for (std::int64_t id = 1; id <= 1000; ++id) {
      index.remove("t", "s", id);
    }
    CHECK(index.size() == 24);
    for (std::int64_t id = 1; id <= 1000; id += 97) {
      for (const auto& n : index.search("t", "s", points[static_cast<std::size_t>(id) - 1], 10)) {
        CHECK(n.id > 1000);
      }
    }
    // Full of deleted points: adding compacts instead of growing.
    for (std::int64_t id = 2000; id < 2100; ++id) {
      index.add("t", "s", id, unit_vector(rng, 16));
    }
    CHECK(index.size() == 124);
    const auto self = index.search("t", "s", points[1010], 1);
    REQUIRE(self.size() == 1);
    CHECK(self[0].id == 1011);
  }

  TEST_CASE("forget drops a tenant's ids from every scope, and only that tenant's")
  {
    std::mt19937 rng(11);
    Index index(IndexParams{});
    const auto a = unit_vector(rng, 16);
    index.add("t1", "s1", 1, a);
    index.add("t1", "s2", 2, unit_vector(rng, 8));
    index.add("t2", "s1", 1, a); // the same id in another tenant
    const std::int64_t ids[] = {1, 2, 99};
    index.forget("t1", ids);
    CHECK(index.size() == 1);
    CHECK(index.search("t1", "s1", a, 1).empty());
    REQUIRE(index.search("t2", "s1", a, 1).size() == 1);
  }

  TEST_CASE("keep_only keeps the labels added after the ids were read")
  {
    std::mt19937 rng(12);
    Index index(IndexParams{});
    for (std::int64_t id = 1; id <= 5; ++id) {
      index.add("t", "s", id, unit_vector(rng, 8));
    }
    const std::int64_t read[] = {2, 4}; // 1 and 3 gone; 5 added after the read
    CHECK(index.keep_only(read) == 2);
    CHECK(index.size() == 3);
  }
}
