#pragma once

#include "daemon/front.hpp"
#include "daemon/handlers/handler.hpp"
#include "daemon/lifetime.hpp"
#include "daemon/listener.hpp"
#include "daemon/metrics.hpp"
#include "daemon/semantic_index_owner.hpp"
#include "daemon/session.hpp"
#include "daemon/systemd.hpp"
#include "daemon/tier/shared_tier.hpp"
#include "protocol/config.hpp"
#include "store/store.hpp"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

namespace omnicache::daemon {

// The daemon: owns the locks, the store, the semantic index, the listener and the serving
// threads. Thread 0 also accepts connections and handles signals and timers.
class Server
{
public:
  // `listen_fd`: a listening socket passed by a service manager, served
  // instead of daemon.socket (-1: none); `notifier` reports state to it.
  // `make_front` builds the HTTP proxy when [proxy] listen is set.
  Server(protocol::ConfigSources sources, protocol::Config config, bool foreground, int listen_fd = -1,
         systemd::Notifier notifier = {}, MakeFront make_front = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Takes the locks, opens the database and listens. Throws StartupError or
  // protocol::Error; nothing is served until run().
  void open();
  // Serves until SIGTERM, SIGINT, a shutdown request or the idle timeout.
  void run();
  // Thread-safe.
  void request_shutdown();

private:
  using Socket = Listener::Socket;

  Worker& main_worker() { return *m_workers.front(); }
  void admit(Socket socket, Worker& worker);
  void wait_for_signal();
  // The reload part (server_reload.cpp). `cause` starts each log line.
  ReloadOutcome reload(std::string_view cause);
  ReloadOutcome reload_config(std::string_view cause);
  void share_configuration();
  std::shared_ptr<const protocol::Config> current_config() const;
  std::string serving_status() const;
  void schedule_tick();
  void tick();
  void begin_shutdown();
  void open_shared_tier();
  store::StoreLimits store_limits(const protocol::Settings& settings) const;

  protocol::ConfigSources m_sources;
  std::shared_ptr<const protocol::Config> m_config; // written on the main thread only
  mutable std::mutex m_config_mutex;                // held to write it, and to read it on other threads
  bool m_foreground;
  ServerInfo m_info;
  LockFile m_database_lock;
  LockFile m_socket_lock;
  std::unique_ptr<store::Store> m_store;
  Metrics m_metrics;
  LeaseTable m_leases;
  std::unique_ptr<Embedder> m_embedder;
  std::unique_ptr<SemanticIndexOwner> m_semantic;
  std::unique_ptr<tier::SharedTier> m_tier; // [tier.redis] url set
  std::unique_ptr<Replication> m_replication; // what the handlers see of m_tier
  std::unique_ptr<Shared> m_shared;
  MakeFront m_make_front;
  std::unique_ptr<Front> m_proxy; // [proxy] listen set
  std::vector<std::unique_ptr<Worker>> m_workers;
  std::vector<std::thread> m_threads;
  Listener m_listener;
  systemd::Notifier m_notifier;
  std::uint64_t m_max_by_files = UINT64_MAX; // connections the open file limit allows
  std::optional<boost::asio::signal_set> m_signals;
  std::optional<boost::asio::steady_timer> m_timer;
  bool m_stopping = false;
  std::chrono::steady_clock::time_point m_stop_deadline;
};

} // namespace omnicache::daemon
