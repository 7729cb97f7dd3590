#include "bench/semantic_scale/data.hpp"

#include <algorithm>
#include <array>

namespace omnicache::bench::scale {

namespace {

float
dot(const float* a, const float* b, std::size_t n)
{
  // Eight partial sums: the compiler keeps them in vector registers.
  std::array<float, 8> acc{};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (std::size_t k = 0; k < 8; ++k) {
      acc[k] += a[i + k] * b[i + k];
    }
  }
  float sum = 0;
  for (; i < n; ++i) {
    sum += a[i] * b[i];
  }
  for (const float x : acc) {
    sum += x;
  }
  return sum;
}

} // namespace

Truth
brute_force(const DataSet& data, std::size_t n, std::size_t queries, std::size_t dim)
{
  Truth truth;
  for (std::size_t q = 0; q < queries; ++q) {
    truth.queries.push_back(data.query(q));
  }
  truth.best.assign(queries, 0);
  truth.best_score.assign(queries, -2.0f);
  constexpr std::size_t k_block = 256;
  std::vector<float> block(k_block * dim);
  for (std::size_t start = 0; start < n; start += k_block) {
    const std::size_t count = std::min(k_block, n - start);
    for (std::size_t j = 0; j < count; ++j) {
      const auto v = data.vector(start + j);
      std::copy(v.begin(), v.end(), block.begin() + static_cast<std::ptrdiff_t>(j * dim));
    }
    for (std::size_t q = 0; q < queries; ++q) {
      for (std::size_t j = 0; j < count; ++j) {
        const float score = dot(truth.queries[q].data(), block.data() + j * dim, dim);
        if (score > truth.best_score[q]) {
          truth.best_score[q] = score;
          truth.best[q] = start + j;
        }
      }
    }
  }
  return truth;
}

bool
is_hit(const Truth& truth, std::size_t q, std::size_t found, float similarity)
{
  return found == truth.best[q] || similarity >= truth.best_score[q] - 1e-6f;
}

} // namespace omnicache::bench::scale
