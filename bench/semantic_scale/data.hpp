#pragma once

#include "bench/semantic_scale/options.hpp"
#include "protocol/error.hpp"

#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

// The generated data: vectors, queries and the exact answers to compare with.
namespace omnicache::bench::scale {

// Vector i of a data set, or query i (queries use another stream): unit
// length, either uniform on the sphere or near one of k_clusters centres.
class DataSet
{
public:
  DataSet(std::string kind, std::size_t dim, std::uint64_t seed)
    : m_kind(std::move(kind)),
      m_dim(dim),
      m_seed(seed)
  {
    if (m_kind != "random" && m_kind != "clustered") {
      throw protocol::Error(protocol::ErrorCode::config, "unknown data kind '" + m_kind + "' (random or clustered)");
    }
    if (m_kind == "clustered") {
      for (std::size_t c = 0; c < k_clusters; ++c) {
        m_centres.push_back(gaussian(stream(c, 2), 1.0f));
        normalise(m_centres.back());
      }
    }
  }

  std::vector<float> vector(std::size_t i) const { return make(stream(i, 0)); }
  std::vector<float> query(std::size_t i) const { return make(stream(i, 1)); }

private:
  std::mt19937_64 stream(std::size_t i, std::uint64_t which) const
  {
    std::seed_seq seq{m_seed, static_cast<std::uint64_t>(i), which};
    return std::mt19937_64(seq);
  }

  std::vector<float> gaussian(std::mt19937_64&& rng, float scale) const
  {
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> v(m_dim);
    for (auto& x : v) {
      x = normal(rng);
    }
    return v;
  }

  static void normalise(std::vector<float>& v)
  {
    double norm = 0;
    for (const float x : v) {
      norm += static_cast<double>(x) * x;
    }
    const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
    for (auto& x : v) {
      x *= scale;
    }
  }

  std::vector<float> make(std::mt19937_64 rng) const
  {
    if (m_kind == "random") {
      auto v = gaussian(std::move(rng), 1.0f);
      normalise(v);
      return v;
    }
    const auto& centre = m_centres[rng() % k_clusters];
    auto v = gaussian(std::move(rng), k_cluster_spread / std::sqrt(static_cast<float>(m_dim)));
    for (std::size_t d = 0; d < m_dim; ++d) {
      v[d] += centre[d];
    }
    normalise(v);
    return v;
  }

  std::string m_kind;
  std::size_t m_dim;
  std::uint64_t m_seed;
  std::vector<std::vector<float>> m_centres;
};

struct Truth
{
  std::vector<std::vector<float>> queries;
  std::vector<std::size_t> best;
  std::vector<float> best_score;
};

// The exact nearest vector of every query, over blocks of data that stay in cache.
Truth brute_force(const DataSet& data, std::size_t n, std::size_t queries, std::size_t dim);

// A hit when the answer is the exact nearest, or as near (a tie).
bool is_hit(const Truth& truth, std::size_t q, std::size_t found, float similarity);

} // namespace omnicache::bench::scale
