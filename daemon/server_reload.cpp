// Reloading the configuration, on SIGHUP and on the reload operation. Either
// way the daemon reads the sources it was started with: its --config (else
// $OMNICACHE_CONFIG, else the default path) and its own environment, which a
// command that asks for the reload cannot change.
#include "daemon/server.hpp"

#include "daemon/log.hpp"

#include <boost/asio/post.hpp>

#include <map>
#include <optional>
#include <set>

namespace omnicache::daemon {

namespace {

// Values as `config show` prints them (secrets masked), by key.
std::map<std::string, std::string, std::less<>>
reload_shown_values(const protocol::Config& config)
{
  std::map<std::string, std::string, std::less<>> out;
  for (auto& shown : config.show()) {
    out.emplace(std::move(shown.key), std::move(shown.value));
  }
  return out;
}

std::string
reload_value_of(const std::map<std::string, std::string, std::less<>>& values, const std::string& key)
{
  const auto found = values.find(key);
  return found == values.end() ? std::string() : found->second;
}

// A setting of the table, or each entry of [prices], [rules] or
// [proxy.tokens] that differs (always live).
std::vector<ConfigChange>
reload_changes(const protocol::Config& before, const protocol::Config& after)
{
  const auto old_values = reload_shown_values(before);
  const auto new_values = reload_shown_values(after);
  std::vector<ConfigChange> out;
  for (const auto& key : before.changed_keys(after)) {
    if (const auto* spec = protocol::find_setting(key); spec != nullptr) {
      out.push_back({key, reload_value_of(old_values, key), reload_value_of(new_values, key), spec->live});
      continue;
    }
    const std::string prefix = key + ".";
    std::set<std::string> entries;
    for (const auto* values : {&old_values, &new_values}) {
      for (auto it = values->lower_bound(prefix); it != values->end() && it->first.starts_with(prefix); ++it) {
        entries.insert(it->first);
      }
    }
    const auto found = out.size();
    for (const auto& entry : entries) {
      auto was = reload_value_of(old_values, entry);
      auto now = reload_value_of(new_values, entry);
      if (was != now) {
        out.push_back({entry, std::move(was), std::move(now), true});
      }
    }
    if (out.size() == found) { // only a masked value (a token) changed
      out.push_back({key, "", "", true});
    }
  }
  return out;
}

} // namespace

void
Server::share_configuration()
{
  m_shared->config = [this] { return current_config(); };
  m_shared->reload = [this](std::function<void(ReloadOutcome)> done) {
    boost::asio::post(main_worker().io, [this, done = std::move(done)] { done(reload("reload request")); });
  };
}

std::shared_ptr<const protocol::Config>
Server::current_config() const
{
  std::lock_guard lock(m_config_mutex);
  return m_config;
}

// The manager sees the unit "reloading" until the new configuration is in
// force (ExecReload= only sends SIGHUP).
ReloadOutcome
Server::reload(std::string_view cause)
{
  m_notifier.reloading();
  auto outcome = reload_config(cause);
  m_notifier.ready(outcome.reloaded ? serving_status()
                                    : serving_status() + "; the last reload failed, see the log");
  return outcome;
}

ReloadOutcome
Server::reload_config(std::string_view cause)
{
  ReloadOutcome outcome;
  std::optional<protocol::Config> loaded;
  try {
    loaded = protocol::Config::load(m_sources);
  } catch (const std::exception& e) {
    log::error("{}: keeping the current configuration: {}", cause, e.what());
    outcome.error = e.what();
    return outcome;
  }
  outcome.changes = reload_changes(*m_config, *loaded);
  // What needs a restart keeps its running value until then, so that the
  // code reading it and `config show --daemon` see what is in force.
  const auto fresh = std::make_shared<const protocol::Config>(loaded->keeping_restart_settings(*m_config));
  for (const auto& change : outcome.changes) {
    if (!change.live) {
      log::warn("{}: {} changed; it takes effect when the daemon restarts", cause, change.key);
    } else if (change.after.empty()) {
      log::info("{}: {} changed", cause, change.key);
    } else {
      log::info("{}: {} = {}", cause, change.key, change.after);
    }
  }
  if (outcome.changes.empty()) {
    log::info("{}: configuration unchanged", cause);
  }
  log::set_level(log::parse_level(fresh->settings().log_level));
  m_store->set_limits(store_limits(fresh->settings()));
  m_semantic->index().set_ef(fresh->settings().semantic_ef);
  {
    std::lock_guard lock(m_config_mutex);
    m_config = fresh;
  }
  for (auto& worker : m_workers) {
    boost::asio::post(worker->io, [&worker = *worker, fresh] { worker.config = fresh; });
  }
  outcome.reloaded = true;
  return outcome;
}

} // namespace omnicache::daemon
