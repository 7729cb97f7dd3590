#pragma once

#include "cli/client.hpp"
#include "cli/warm/report.hpp"
#include "cli/warm/rows.hpp"

#include <cstddef>
#include <memory>
#include <vector>

// Sends entries to the daemon in large `mset` requests: a few big
// transactions import far faster than one request per row.
namespace omnicache::cli::warm {

struct BatchLimits
{
  std::size_t max_entries = 0;
  std::size_t max_header_bytes = 0; // of the JSON header, for the entries
  std::size_t max_value_bytes = 0;  // of the values together (one larger value goes alone)
};

// From the limits the daemon announced in its hello (`server`), else from
// the configuration's.
BatchLimits batch_limits(const protocol::Json& server, const protocol::Settings& settings);

// Keeps one request in flight on each of its connections, each sent by a
// thread of its own, while the caller goes on reading: the daemon reads one
// request while it writes another, and the file is read meanwhile. A key
// always goes through the same connection, so two rows for one key reach
// the daemon in the order of the file.
class MsetPipeline
{
public:
  // `only_missing`: leave entries that exist alone and count them skipped.
  MsetPipeline(std::vector<Client> clients, BatchLimits limits, bool only_missing, Report& report);
  // Without finish(): waits for the requests in flight, sends nothing more.
  ~MsetPipeline();
  MsetPipeline(const MsetPipeline&) = delete;
  MsetPipeline& operator=(const MsetPipeline&) = delete;

  // Throws the error of an earlier request (the daemon failed, not a row).
  void add(Entry&& entry);
  // Sends what is pending and waits for every reply. Throws like add().
  void finish();

private:
  struct Lane;
  void hand_over(Lane& lane);

  BatchLimits m_limits;
  std::vector<std::unique_ptr<Lane>> m_lanes;
};

} // namespace omnicache::cli::warm
