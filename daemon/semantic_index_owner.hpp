#pragma once

#include "daemon/metrics.hpp"
#include "store/semantic/index.hpp"
#include "store/store.hpp"

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace omnicache::daemon {

// The semantic index of one database: owns it, loads it at start (its files,
// then a check or a rebuild from the vectors table in the background) and
// saves it at a clean stop. The vectors table is the truth; the index is a
// cache of it, kept in files beside the database.
class SemanticIndexOwner
{
public:
  // `database`: the database's path; the files are in database + ".semantic".
  SemanticIndexOwner(store::semantic::IndexParams params, const std::string& database, Metrics& metrics);
  // Stops the background check or rebuild.
  ~SemanticIndexOwner();
  SemanticIndexOwner(const SemanticIndexOwner&) = delete;
  SemanticIndexOwner& operator=(const SemanticIndexOwner&) = delete;

  store::semantic::Index& index() { return *m_index; }

  // Reads the saved files, if current, with `reader` before serving, and
  // completes the index in the background with `builder`.
  void load(store::Reader& reader, std::unique_ptr<store::Reader> builder);
  // Waits for the background work, which gives up early.
  void stop_builder();
  // After the writer has stopped, once the index was complete: saves it
  // with the generation `reader` sees.
  void save_if_complete(store::Reader& reader);

private:
  void complete(store::Reader& reader, const store::semantic::LoadResult& saved, bool had_files,
                std::chrono::steady_clock::time_point started);
  void save(store::Reader& reader);

  std::unique_ptr<store::semantic::Index> m_index;
  std::filesystem::path m_dir;
  Metrics& m_metrics;
  std::thread m_builder; // completes the index after start
  std::atomic<bool> m_stop{false};
  std::atomic<bool> m_complete{false};
};

} // namespace omnicache::daemon
