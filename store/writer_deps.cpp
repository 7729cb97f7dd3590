// Dependencies: the data an answer was computed from (a document, a file, a
// model). Each (tenant, name) has one current version; an entry records the
// version it was written under, and entries of any other version are removed
// as soon as a new version is recorded, so a read never has to check.
#include "store/writer.hpp"

#include <fmt/core.h>

namespace omnicache::store {

std::optional<std::string>
Writer::current_version(std::string_view tenant, std::string_view name)
{
  sqlite::ResetOnExit reset(m_dep_version);
  m_dep_version.bind(1, tenant).bind(2, name);
  if (!m_dep_version.step()) {
    return std::nullopt;
  }
  return std::string(m_dep_version.column_text(0));
}

void
Writer::record_version(std::string_view tenant, std::string_view name, std::string_view version, std::int64_t now)
{
  m_dep_record.bind(1, tenant).bind(2, name).bind(3, version).bind(4, now);
  m_dep_record.run();
}

std::uint64_t
Writer::remove_dependents(std::string_view tenant, std::string_view name, std::int64_t now)
{
  m_dep_remove.bind(1, tenant).bind(2, name);
  return remove(m_dep_remove, Reason::invalidated, now).live;
}

std::vector<Dependency>
Writer::resolve_dependencies(const EntryWrite& entry, std::int64_t now)
{
  std::vector<Dependency> resolved;
  resolved.reserve(entry.deps.size());
  for (const auto& dep : entry.deps) {
    const auto current = current_version(entry.tenant, dep.name);
    if (dep.version.empty()) {
      resolved.push_back({dep.name, current.value_or("")});
      continue;
    }
    if (current != dep.version) {
      // The data changed: what was computed from the old version is stale.
      remove_dependents(entry.tenant, dep.name, now);
      record_version(entry.tenant, dep.name, dep.version, now);
    }
    resolved.push_back(dep);
  }
  return resolved;
}

bool
Writer::dependencies_current(const EntryWrite& entry)
{
  for (const auto& dep : entry.deps) {
    if (dep.version.empty()) {
      continue;
    }
    if (const auto current = current_version(entry.tenant, dep.name); current && *current != dep.version) {
      return false;
    }
  }
  return true;
}

void
Writer::link_dependencies(const EntryWrite& entry, std::int64_t id, const std::vector<Dependency>& deps)
{
  for (const auto& dep : deps) {
    m_dep_link.bind(1, entry.tenant).bind(2, dep.name).bind(3, id).bind(4, dep.version);
    m_dep_link.run();
  }
}

std::uint64_t
Writer::invalidate_dependencies(std::string_view tenant, const std::vector<std::string>& names,
                                const std::string& version, std::int64_t now)
{
  std::uint64_t removed = 0;
  for (const auto& name : names) {
    const auto current = current_version(tenant, name);
    if (!version.empty() && current == version) {
      continue; // already at that version: nothing written since is stale
    }
    removed += remove_dependents(tenant, name, now);
    // Without a version of its own the dependency gets a fresh one, so that
    // entries written before this call can never count as current again.
    record_version(tenant, name, version.empty() ? fmt::format("#{}", now) : version, now);
  }
  Removal removal;
  removal.kind = Removal::Kind::deps;
  removal.tenant = tenant;
  removal.deps = names;
  removal.version = version;
  record_removal(std::move(removal));
  return removed;
}

} // namespace omnicache::store
