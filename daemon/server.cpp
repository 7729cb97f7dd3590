#include "daemon/server.hpp"

#include "daemon/commit_effects.hpp"
#include "daemon/embedders/make.hpp"
#include "daemon/log.hpp"
#include "omnicache_version.hpp"
#include "protocol/units.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <csignal>
#include <sys/socket.h>
#include <unistd.h>

namespace omnicache::daemon {

namespace {

constexpr auto k_tick = std::chrono::milliseconds(200);
// While stopping: how often to look whether the last connection has finished.
constexpr auto k_drain_tick = std::chrono::milliseconds(5);
constexpr auto k_drain_timeout = std::chrono::seconds(10);

bool
same_user(int fd)
{
  ucred peer{};
  socklen_t length = sizeof peer;
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0 && peer.uid == geteuid();
}

} // namespace

Server::Server(protocol::ConfigSources sources, protocol::Config config, bool foreground, int listen_fd,
               systemd::Notifier notifier, MakeFront make_front)
  : m_sources(std::move(sources)),
    m_config(std::make_shared<const protocol::Config>(std::move(config))),
    m_foreground(foreground),
    m_metrics(op_table().size()),
    m_make_front(std::move(make_front)),
    m_listener(m_config->settings().socket, listen_fd),
    m_notifier(std::move(notifier))
{
}

Server::~Server()
{
  for (auto& worker : m_workers) {
    worker->io.stop();
  }
  for (auto& thread : m_threads) {
    if (thread.joinable()) {
      thread.join();
    }
  }
  if (m_semantic) {
    m_semantic->stop_builder();
  }
  // Everything bound to an event loop goes before the loops themselves,
  // the embedder too: its pending callbacks post to them.
  m_embedder.reset();
  if (m_proxy) {
    m_proxy->close_upstreams();
  }
  if (m_tier) {
    // Its last callbacks post to the serving threads' loops.
    m_tier->stop(std::chrono::milliseconds(0));
  }
  m_timer.reset();
  m_signals.reset();
  m_listener.release();
  m_workers.clear();
  m_proxy.reset();
  if (m_store) {
    m_store->stop();
  }
  m_listener.unlink_own_socket();
}

store::StoreLimits
Server::store_limits(const protocol::Settings& s) const
{
  store::StoreLimits limits;
  limits.max_bytes = s.max_bytes;
  limits.max_entries = s.max_entries;
  limits.compress_threshold = s.compress_threshold;
  limits.compress_level = static_cast<int>(s.compress_level);
  limits.sweep_interval_ms = s.sweep_interval_ms == 0 ? 1000 : s.sweep_interval_ms;
  limits.sweep_budget_ms = s.sweep_budget_ms;
  return limits;
}

void
Server::open()
{
  const auto& s = m_config->settings();
  m_info.socket = m_listener.resolve();
  m_info.database = s.database;
  m_info.config_file = m_config->file();
  m_info.foreground = m_foreground;
  m_info.started_ms = store::now_ms();
  m_info.started = std::chrono::steady_clock::now();

  prepare_database_directory(s.database);
  prepare_socket_directory(m_listener.lock_base());
  m_database_lock = LockFile(s.database + ".lock", "the database " + s.database);
  m_socket_lock = LockFile(m_listener.lock_base() + ".lock", "the socket " + m_info.socket);
  m_database_lock.write_pid();
  m_socket_lock.write_pid();
  m_max_by_files = connections_within_file_limit(s.max_connections, s.io_threads);

  store::StoreOptions options;
  options.path = s.database;
  options.sync = s.sync;
  options.limits = store_limits(s);
  options.on_error = [](const std::string& message) { log::error("{}", message); };
  m_semantic = std::make_unique<SemanticIndexOwner>(
    store::semantic::IndexParams{s.semantic_m, s.semantic_ef_construction, s.semantic_ef}, s.database, m_metrics);
  m_store = std::make_unique<store::Store>(std::move(options));
  // What follows a commit (commit_effects.hpp; the shared tier's in open_shared_tier).
  m_store->observe(follow_vectors(m_semantic->index()));
  m_store->observe(wake_waiters(m_leases));
  m_embedder = make_embedder(s); // semantic.embedder; a change needs a restart (SIGHUP says so)
  open_shared_tier();
  m_shared = std::make_unique<Shared>(Shared{*m_store, m_metrics, m_leases, m_semantic->index(), *m_embedder,
                                             m_info, [this] { request_shutdown(); }, m_replication.get()});
  share_configuration();

  for (std::uint64_t i = 0; i < s.io_threads; ++i) {
    auto worker = std::make_unique<Worker>();
    worker->reader = m_store->open_reader();
    worker->config = m_config;
    m_workers.push_back(std::move(worker));
  }
  m_semantic->load(*main_worker().reader, m_store->open_reader());

  if (!s.proxy_listen.empty() && m_make_front) {
    try {
      m_proxy = m_make_front(*m_shared, m_workers, s);
    } catch (const std::exception& e) {
      throw StartupError(e.what());
    }
    m_info.proxy = m_proxy->address();
  }

  m_listener.open(main_worker().io);
}

void
Server::run()
{
  std::signal(SIGPIPE, SIG_IGN);
  m_signals.emplace(main_worker().io, SIGTERM, SIGINT, SIGHUP);
  wait_for_signal();
  m_timer.emplace(main_worker().io);
  schedule_tick();
  m_metrics.mark_activity();
  m_store->start();
  if (m_tier) {
    m_tier->start();
    // What other daemons invalidated while this one was away is applied
    // before the first request, so that none of it is served.
    const auto& s = m_config->settings();
    const auto limit = std::chrono::milliseconds(s.redis_connect_timeout_ms + 2 * s.redis_timeout_ms + 1000);
    if (!m_tier->wait_until_settled(limit)) {
      log::warn("shared tier: the invalidation log was not read within {}; serving meanwhile",
                protocol::format_duration_ms(limit.count()));
    }
  }
  m_listener.start(
    m_workers, [this](Socket socket, Worker& worker) { admit(std::move(socket), worker); },
    [this] { m_metrics.connections_rejected.fetch_add(1); });
  if (m_proxy) {
    m_proxy->start();
    log::info("HTTP proxy listening on {} (upstreams {} and {})", m_proxy->address(),
              m_config->settings().proxy_upstream, m_config->settings().proxy_anthropic_upstream);
  }

  log::info("omnicached {} serving {} (database {}, pid {}, {} thread{})", k_version, m_info.socket,
            m_info.database, getpid(), m_workers.size(), m_workers.size() == 1 ? "" : "s");
  m_notifier.ready(serving_status());

  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards;
  for (auto& worker : m_workers) {
    guards.push_back(boost::asio::make_work_guard(worker->io));
  }
  for (std::size_t i = 1; i < m_workers.size(); ++i) {
    m_threads.emplace_back([&io = m_workers[i]->io] { io.run(); });
  }
  // Until begin_shutdown() has drained the sessions and stopped the store.
  main_worker().io.run();
  for (auto& worker : m_workers) {
    worker->io.stop();
  }
  for (auto& thread : m_threads) {
    thread.join();
  }
  m_threads.clear();
  m_semantic->stop_builder();
  m_semantic->save_if_complete(*main_worker().reader);
  log::info("omnicached stopped");
}

void
Server::admit(Socket socket, Worker& worker)
{
  if (!same_user(socket.native_handle())) {
    m_metrics.connections_rejected.fetch_add(1);
    log::warn("refused a connection from another user");
    return;
  }
  const auto& s = m_config->settings();
  if (m_metrics.connections.load() >= std::min(s.max_connections, m_max_by_files)) {
    m_metrics.connections_rejected.fetch_add(1);
    const std::string why =
      s.max_connections <= m_max_by_files
        ? fmt::format("limits.max_connections = {}", s.max_connections)
        : fmt::format("the daemon's open file limit allows {}; limits.max_connections = {}", m_max_by_files,
                      s.max_connections);
    std::string frame;
    protocol::append_reply(frame, protocol::make_error(0, protocol::ErrorCode::busy,
                                                       fmt::format("too many connections ({})", why)));
    boost::system::error_code ignored;
    boost::asio::write(socket, boost::asio::buffer(frame), ignored);
    return;
  }
  m_metrics.connections.fetch_add(1);
  m_metrics.connections_total.fetch_add(1);
  m_metrics.mark_activity();
  boost::asio::post(worker.io, [this, &worker, socket = std::move(socket)]() mutable {
    auto session = std::make_shared<Session>(std::move(socket), worker, *m_shared);
    std::erase_if(worker.sessions, [](const auto& weak) { return weak.expired(); });
    worker.sessions.push_back(session);
    session->start();
  });
}

void
Server::wait_for_signal()
{
  m_signals->async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) {
      return;
    }
    if (signal == SIGHUP) {
      reload("SIGHUP");
    } else {
      log::info("received {}; finishing requests in flight", signal == SIGTERM ? "SIGTERM" : "SIGINT");
      begin_shutdown();
    }
    wait_for_signal();
  });
}

std::string
Server::serving_status() const
{
  return fmt::format("serving {} (database {})", m_info.socket, m_info.database);
}

void
Server::schedule_tick()
{
  m_timer->expires_after(m_stopping ? k_drain_tick : k_tick);
  m_timer->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) {
      tick();
    }
  });
}

void
Server::tick()
{
  if (m_stopping) {
    const bool drained = m_metrics.connections.load() == 0;
    if (drained || std::chrono::steady_clock::now() >= m_stop_deadline) {
      if (!drained) {
        log::warn("closing {} connections that did not finish in time", m_metrics.connections.load());
      }
      if (m_tier) {
        m_tier->stop(); // sends what is queued, for up to a second
      }
      m_store->stop();
      m_signals->cancel();
      main_worker().io.stop();
      return;
    }
    schedule_tick();
    return;
  }
  m_listener.check();
  const auto idle_timeout = m_config->settings().idle_timeout_ms;
  // A proxy is a service other programs point at: it does not time out.
  // Under a supervisor the daemon stays, unless the supervisor holds its
  // socket and starts it again on the next connection.
  if ((!m_foreground || m_listener.inherited()) && !m_proxy && idle_timeout > 0 && m_metrics.connections.load() == 0
      && m_metrics.ms_since_activity() >= idle_timeout) {
    log::info("no clients for {}; exiting", protocol::format_duration_ms(idle_timeout));
    begin_shutdown();
  }
  schedule_tick();
}

void
Server::request_shutdown()
{
  boost::asio::post(main_worker().io, [this] { begin_shutdown(); });
}

void
Server::begin_shutdown()
{
  if (m_stopping) {
    return;
  }
  m_stopping = true;
  m_stop_deadline = std::chrono::steady_clock::now() + k_drain_timeout;
  schedule_tick(); // at the drain's pace from now on, not at the next idle tick
  m_notifier.stopping("stopping: finishing requests in flight");
  // New clients now find no socket rather than a socket nobody answers.
  m_listener.close();
  if (m_proxy) {
    m_proxy->stop();
  }
  for (auto& worker : m_workers) {
    boost::asio::post(worker->io, [&worker = *worker] {
      for (const auto& weak : worker.sessions) {
        if (auto session = weak.lock()) {
          session->drain();
        }
      }
    });
  }
}

} // namespace omnicache::daemon
