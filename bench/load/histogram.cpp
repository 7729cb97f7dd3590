#include "bench/load/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace omnicache::bench {

std::size_t
Histogram::bucket_of(std::uint64_t ns)
{
  if (ns < k_linear) {
    return static_cast<std::size_t>(ns);
  }
  // The top k_sub_bits + 1 bits of the value pick the bucket within its power of two.
  const int shift = std::bit_width(ns) - (k_sub_bits + 1);
  const std::uint64_t top = ns >> shift; // in [k_linear / 2, k_linear)
  return static_cast<std::size_t>(k_linear + (shift - 1) * (k_linear / 2) + (top - k_linear / 2));
}

std::uint64_t
Histogram::middle_of(std::size_t bucket)
{
  if (bucket < k_linear) {
    return bucket;
  }
  const std::size_t above = bucket - k_linear;
  const int shift = static_cast<int>(above / (k_linear / 2)) + 1;
  const std::uint64_t top = above % (k_linear / 2) + k_linear / 2;
  return (top << shift) + (std::uint64_t{1} << (shift - 1));
}

void
Histogram::record(std::uint64_t ns)
{
  ++m_buckets[bucket_of(ns)];
  ++m_count;
  m_min = std::min(m_min, ns);
  m_max = std::max(m_max, ns);
  m_sum += static_cast<long double>(ns);
}

void
Histogram::merge(const Histogram& other)
{
  for (std::size_t i = 0; i < k_buckets; ++i) {
    m_buckets[i] += other.m_buckets[i];
  }
  m_count += other.m_count;
  m_min = std::min(m_min, other.m_min);
  m_max = std::max(m_max, other.m_max);
  m_sum += other.m_sum;
}

double
Histogram::mean() const
{
  return m_count == 0 ? 0.0 : static_cast<double>(m_sum / static_cast<long double>(m_count));
}

std::uint64_t
Histogram::percentile(double percentile) const
{
  if (m_count == 0) {
    return 0;
  }
  const auto wanted = static_cast<double>(m_count) * std::clamp(percentile, 0.0, 100.0) / 100.0;
  const std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(wanted)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < k_buckets; ++i) {
    seen += m_buckets[i];
    if (seen >= rank) {
      return std::clamp(middle_of(i), m_min, m_max);
    }
  }
  return m_max;
}

} // namespace omnicache::bench
