#pragma once

#include "daemon/handlers/handler.hpp"
#include "daemon/lifetime.hpp"
#include "daemon/metrics.hpp"
#include "daemon/proxy/server.hpp"
#include "daemon/session.hpp"
#include "daemon/systemd.hpp"
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

// The daemon: owns the locks, the store, the listening socket and the serving
// threads. Thread 0 also accepts connections and handles signals and timers.
class Server
{
public:
  // `listen_fd`: a listening socket passed by a service manager, served
  // instead of daemon.socket (-1: none); `notifier` reports state to it.
  Server(protocol::ConfigSources sources, protocol::Config config, bool foreground, int listen_fd = -1,
         systemd::Notifier notifier = {});
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
  using Acceptor = boost::asio::local::stream_protocol::acceptor;
  using Socket = boost::asio::local::stream_protocol::socket;

  Worker& main_worker() { return *m_workers.front(); }
  std::string served_socket() const;
  std::string socket_lock_base() const;
  Acceptor open_socket();
  Acceptor adopt_socket();
  Acceptor listen_on_socket();
  void check_socket();
  void unlink_own_socket();
  void accept();
  void accept_later();
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
  void load_semantic_index();
  void complete_semantic_index(store::Reader& reader, const store::semantic::LoadResult& saved, bool had_files,
                               std::chrono::steady_clock::time_point started, const std::filesystem::path& dir);
  void stop_index_builder();
  void save_semantic_index();
  std::filesystem::path semantic_index_dir() const;
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
  std::unique_ptr<store::semantic::Index> m_index;
  std::thread m_index_builder; // completes the index after start
  std::atomic<bool> m_index_stop{false};
  std::atomic<bool> m_index_complete{false};
  std::unique_ptr<tier::SharedTier> m_tier; // [tier.redis] url set
  std::unique_ptr<Shared> m_shared;
  std::unique_ptr<proxy::ProxyServer> m_proxy; // [proxy] listen set
  std::vector<std::unique_ptr<Worker>> m_workers;
  std::vector<std::thread> m_threads;
  std::optional<Acceptor> m_acceptor;
  int m_inherited_fd = -1;            // passed by a service manager, until adopted
  bool m_inherited = false;           // serving a socket the service manager owns
  systemd::Notifier m_notifier;
  std::optional<FileId> m_socket_id; // the socket file we created, or the one passed
  std::uint64_t m_listener_generation = 0;
  bool m_socket_warned = false;       // about a socket we cannot re-create
  std::chrono::steady_clock::time_point m_next_socket_check;
  std::uint64_t m_max_by_files = UINT64_MAX; // connections the open file limit allows
  std::optional<boost::asio::steady_timer> m_accept_timer;
  std::optional<boost::asio::signal_set> m_signals;
  std::optional<boost::asio::steady_timer> m_timer;
  std::size_t m_next_worker = 0;
  bool m_stopping = false;
  std::chrono::steady_clock::time_point m_stop_deadline;
  bool m_listening = false;
};

} // namespace omnicache::daemon
