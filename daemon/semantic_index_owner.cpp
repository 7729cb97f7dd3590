#include "daemon/semantic_index_owner.hpp"

#include "daemon/log.hpp"

namespace omnicache::daemon {

SemanticIndexOwner::SemanticIndexOwner(store::semantic::IndexParams params, const std::string& database,
                                       Metrics& metrics)
  : m_index(std::make_unique<store::semantic::Index>(params)),
    m_dir(database + ".semantic"),
    m_metrics(metrics)
{
}

SemanticIndexOwner::~SemanticIndexOwner()
{
  stop_builder();
}

// The saved index is used only when no vector was added or removed since
// (the generation in the database says) and the parameters are the same; it
// is then checked against the table: labels of entries gone are dropped,
// vectors missing are added. Reading the files is quick and done before
// serving; the check, or a rebuild from the table when there are no current
// files, runs in the background while the daemon serves: until it is done,
// semantic lookups see the vectors added so far (exact keys always match).
void
SemanticIndexOwner::load(store::Reader& reader, std::unique_ptr<store::Reader> builder)
{
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  const bool had_files = std::filesystem::exists(m_dir, ec);
  const auto saved = m_index->load(m_dir, reader.semantic_generation());
  m_metrics.semantic_index_loaded = saved.loaded;
  if (!saved.loaded) {
    std::filesystem::remove_all(m_dir, ec); // stale or damaged: of no use from now on
  }
  m_builder = std::thread([this, saved, had_files, started, reader = std::move(builder)] {
    complete(*reader, saved, had_files, started);
  });
}

void
SemanticIndexOwner::complete(store::Reader& reader, const store::semantic::LoadResult& saved, bool had_files,
                             std::chrono::steady_clock::time_point started)
{
  try {
    const std::int64_t now = store::now_ms();
    std::vector<std::int64_t> ids;
    std::size_t added = 0;
    reader.for_each_vector([&](store::VectorRow&& row) {
      if (m_stop || (row.expires_ms != 0 && row.expires_ms <= now)) {
        return;
      }
      ids.push_back(row.id);
      if (!saved.loaded || !m_index->contains(row.tenant, row.scope, row.id)) {
        m_index->add(row.tenant, row.scope, row.id, row.vector);
        ++added;
      }
    });
    if (m_stop) {
      log::info("semantic index: stopped before it was complete; the next start rebuilds it");
      return;
    }
    const std::size_t dropped = saved.loaded ? m_index->keep_only(ids) : 0;
    const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    m_metrics.semantic_index_ms = elapsed.count();
    m_metrics.semantic_index_ready = true;
    m_complete = true;
    if (saved.loaded) {
      log::info("semantic index: loaded {} vectors in {} scopes from {} in {} ms ({} stale dropped, {} added)",
                m_index->size(), m_index->scopes(), m_dir.string(), elapsed.count(), dropped, added);
    } else if (added > 0 || had_files) {
      log::info("semantic index: rebuilt from the database ({}): {} vectors in {} scopes in {} ms", saved.reason,
                added, m_index->scopes(), elapsed.count());
    }
  } catch (const std::exception& e) {
    log::error("semantic index: cannot read the vectors: {}; semantic lookups match exact keys only", e.what());
  }
}

void
SemanticIndexOwner::stop_builder()
{
  m_stop = true;
  if (m_builder.joinable()) {
    m_builder.join();
  }
}

void
SemanticIndexOwner::save_if_complete(store::Reader& reader)
{
  if (m_complete) {
    save(reader);
  }
}

// A failed save costs the next start a rebuild.
void
SemanticIndexOwner::save(store::Reader& reader)
{
  const auto started = std::chrono::steady_clock::now();
  try {
    if (m_index->size() == 0) {
      std::filesystem::remove_all(m_dir);
      return;
    }
    const std::size_t saved = m_index->save(m_dir, reader.semantic_generation());
    log::info("semantic index: saved {} vectors in {} scopes to {} in {} ms", saved, m_index->scopes(),
              m_dir.string(),
              std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
                .count());
  } catch (const std::exception& e) {
    log::warn("semantic index: not saved ({}); the next start rebuilds it from the database", e.what());
  }
}

} // namespace omnicache::daemon
