#pragma once

#include <array>
#include <cstdint>

namespace omnicache::bench {

// A log-linear latency histogram in the manner of HdrHistogram: every power of
// two is split into 64 equal buckets, so a recorded value is known to within
// 1/64 (1.6%) from 1 ns up to hours, in a fixed array: recording never
// allocates and costs a count-leading-zeros and an increment.
class Histogram
{
public:
  void record(std::uint64_t ns);
  void merge(const Histogram& other);

  std::uint64_t count() const { return m_count; }
  std::uint64_t min() const { return m_count == 0 ? 0 : m_min; }
  std::uint64_t max() const { return m_max; }
  double mean() const;
  // The value at `percentile` (0 to 100): the middle of the bucket holding
  // the ceil(percentile% x count)-th smallest value, capped by the maximum.
  std::uint64_t percentile(double percentile) const;

private:
  static constexpr int k_sub_bits = 6;
  static constexpr std::uint64_t k_linear = std::uint64_t{2} << k_sub_bits; // values below are exact
  static constexpr std::size_t k_buckets = k_linear + (64 - k_sub_bits - 1) * (k_linear / 2);

  static std::size_t bucket_of(std::uint64_t ns);
  static std::uint64_t middle_of(std::size_t bucket);

  std::array<std::uint64_t, k_buckets> m_buckets{};
  std::uint64_t m_count = 0;
  std::uint64_t m_min = UINT64_MAX;
  std::uint64_t m_max = 0;
  long double m_sum = 0;
};

} // namespace omnicache::bench
