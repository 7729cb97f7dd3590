#pragma once

#include "bench/load/options.hpp"
#include "protocol/error.hpp"
#include "protocol/frame.hpp"
#include "protocol/message.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace omnicache::bench {

inline constexpr int k_exit_errors = 1;      // error replies, or the daemon misbehaved
inline constexpr int k_exit_unreachable = 3; // no daemon answered

// A failure that ends the run: the message for the user and the exit code.
// An Error (unavailable when no daemon answered, internal otherwise) whose
// type carries the exit status main() returns.
class BenchError : public protocol::Error
{
public:
  BenchError(int exit_code, const std::string& message)
    : protocol::Error(exit_code == k_exit_unreachable ? protocol::ErrorCode::unavailable
                                                      : protocol::ErrorCode::internal,
                      message),
      m_exit_code(exit_code)
  {
  }
  int exit_code() const { return m_exit_code; }

private:
  int m_exit_code;
};

// What a request of the plan stands for: the measured operations, plus the
// writes that prefill the store before the measurement.
enum class Request { get, miss, set, invalidate, semantic, semantic_set };
inline constexpr int k_request_count = 6;

// Request frames are encoded once, by the protocol library, with fixed-width
// placeholders for the id, the key number and the tag group; sending one is a
// copy and a few digit patches.
class Workload
{
public:
  explicit Workload(const Options& options);

  // Appends the frame of `request` for key (or question, or tag group) number
  // `number`, with request id `id` (from first_id()).
  void append(Request request, std::uint64_t number, std::uint64_t id, std::string& out) const;

  // How many distinct numbers `request` chooses from.
  std::uint64_t numbers(Request request) const;

  static std::uint64_t first_id() { return k_id_base; }
  static std::uint64_t next_id(std::uint64_t id) { return id + 1 < 2 * k_id_base ? id + 1 : k_id_base; }

private:
  static constexpr std::uint64_t k_id_base = 100000000000; // ids have 12 digits, like keys

  struct Template
  {
    std::string frame;
    std::size_t id_at = 0;
    std::vector<std::size_t> number_at; // where the number goes
    std::vector<std::size_t> group_at;  // where a set's tags take the key's group
  };

  static Template make(std::string_view op, const protocol::Json& fields, std::string_view value, int number_digits);

  std::array<Template, k_request_count> m_templates;
  std::array<int, k_request_count> m_digits{};
  std::array<std::uint64_t, k_request_count> m_numbers{};
  std::uint64_t m_groups = 1;
};

// The parts of a reply header the load generator looks at, read without a
// JSON parse for ok replies (the server writes compact JSON).
struct ReplyInfo
{
  bool ok = false;
  bool found = false;
  std::uint64_t id = 0;
  protocol::ErrorCode code = protocol::ErrorCode::internal;
};

ReplyInfo read_reply(std::string_view header);

} // namespace omnicache::bench
