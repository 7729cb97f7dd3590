#pragma once

#include "daemon/commit_effects.hpp"
#include "daemon/embedders/make.hpp"
#include "daemon/handlers/typed.hpp"
#include "protocol/config.hpp"
#include "tests/unit/store_fixture.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// What a handler sees in the daemon, without the daemon: a real store on a
// fresh database with the daemon's observers of commits, the shared state,
// the default settings, and connections whose executor is an io_context the
// test runs itself. Handlers are called directly with their request structs;
// a handler that answers later is waited for by running that io_context, so
// the test thread plays the session's thread.
namespace omnicache::unit {

// A reply that a handler owes; HandlerFixture::wait() turns it into the
// reply struct.
template<class Reply>
struct PendingReply
{
  std::shared_ptr<std::optional<protocol::Reply>> slot = std::make_shared<std::optional<protocol::Reply>>();
};

// What a call that should fail did, as a client sees it: "CODE: message",
// or "no error".
template<class F>
std::string
refusal(F&& call)
{
  try {
    std::forward<F>(call)();
  } catch (const protocol::Error& e) {
    return std::string(protocol::error_code_name(e.code())) + ": " + e.what();
  }
  return "no error";
}

class HandlerFixture
{
public:
  using Connection = std::shared_ptr<daemon::Connection>;

  // Long enough for a loaded machine under ThreadSanitizer; a wait only
  // takes it when the handler never answers, which fails the test.
  static constexpr std::chrono::seconds k_wait_limit{30};

  HandlerFixture()
  {
    // The writer maintains the store once as it starts, taking pending hits
    // out of the touch log meanwhile; two jobs in a row see that pass over
    // before a test looks (as StoreFixture does).
    settle();
    settle();
  }
  ~HandlerFixture()
  {
    // What is ready runs while the store is there (a cancelled timer of a
    // get_or_lease lets go of its wait); the store finishes its jobs before
    // the io_context their answers are posted to goes.
    m_io.poll();
    m_reader.reset();
    m_store.reset();
    m_io.poll();
  }
  HandlerFixture(const HandlerFixture&) = delete;
  HandlerFixture& operator=(const HandlerFixture&) = delete;

  // A Context on the first connection, or on `connection`. The Context keeps
  // a reference to the connection's pointer: keep it alive as long.
  daemon::Context& context() { return m_context; }
  daemon::Context context(const Connection& connection)
  {
    return daemon::Context{m_shared, *m_reader, m_settings, connection};
  }
  const Connection& connection() const { return m_connection; }
  // Another client connection, on the same thread as the first.
  Connection connect()
  {
    auto out = std::make_shared<daemon::Connection>();
    out->id = m_next_connection++;
    out->executor = m_io.get_executor();
    return out;
  }

  daemon::Shared& shared() { return m_shared; }
  daemon::LeaseTable& leases() { return m_leases; }
  store::Store& store() { return *m_store; }
  store::Reader& reader() { return *m_reader; }
  protocol::Settings& settings() { return m_settings; }

  // Calls a handler that answers through a Done and waits for its answer.
  // An error reply is thrown as the protocol::Error it carries.
  template<class Request, class Reply>
  Reply call(void (*handler)(daemon::Context&, const Request&, daemon::Done<Reply>), const Request& request)
  {
    return call(m_context, handler, request);
  }
  template<class Request, class Reply>
  Reply call(daemon::Context& on, void (*handler)(daemon::Context&, const Request&, daemon::Done<Reply>),
             const Request& request)
  {
    return wait(start(on, handler, request));
  }

  // Calls a handler that answers through a Done, without waiting.
  // Throws what the handler throws before it returns (a bad field).
  template<class Request, class Reply>
  PendingReply<Reply> start(daemon::Context& on, void (*handler)(daemon::Context&, const Request&, daemon::Done<Reply>),
                            const Request& request)
  {
    PendingReply<Reply> pending;
    // As a session does, the answer is taken on the connection's thread,
    // whichever thread gave it (the writer's, after a commit).
    auto answer = [executor = on.connection->executor, slot = pending.slot](protocol::Reply reply) {
      boost::asio::post(executor, [slot, reply = std::move(reply)]() mutable { *slot = std::move(reply); });
    };
    handler(on, request, daemon::Done<Reply>(m_next_request++, std::move(answer)));
    return pending;
  }

  // Runs the connections' thread until `pending` is answered; fails the test
  // when that takes longer than k_wait_limit.
  template<class Reply>
  Reply wait(const PendingReply<Reply>& pending)
  {
    const auto deadline = std::chrono::steady_clock::now() + k_wait_limit;
    while (!pending.slot->has_value() && std::chrono::steady_clock::now() < deadline) {
      m_io.run_one_until(deadline);
    }
    REQUIRE_MESSAGE(pending.slot->has_value(), "the handler did not answer within the limit");
    return decoded<Reply>(**pending.slot);
  }

  // Whether `pending` has been answered, after running what is ready now.
  template<class Reply>
  bool answered(const PendingReply<Reply>& pending)
  {
    m_io.poll();
    return pending.slot->has_value();
  }

  // The reply struct a client reads from `reply`; an error reply is thrown.
  template<class Reply>
  static Reply decoded(const protocol::Reply& reply)
  {
    if (!reply.ok) {
      throw protocol::Error(reply.error_code, reply.error_message);
    }
    auto out = protocol::ops::decode<Reply>(reply.header);
    if constexpr (requires { out.value.size(); }) {
      out.value = reply.value;
    }
    return out;
  }

  // A set through the handler: `value` under `key` in tenant "default",
  // layer kv, never expiring unless the test says otherwise.
  protocol::ops::SetReply set(std::string key, std::string_view value, std::vector<std::string> tags = {},
                              std::int64_t ttl_ms = 0)
  {
    auto request = set_request(std::move(key), value);
    request.tags = std::move(tags);
    request.ttl_ms = ttl_ms;
    return call(daemon::handle_set, request);
  }

  static protocol::ops::SetRequest set_request(std::string key, std::string_view value)
  {
    protocol::ops::SetRequest out;
    out.key = std::move(key);
    out.ttl_ms = 0;
    out.value.bytes = value;
    return out;
  }

  // Runs an empty job through the writer and waits for its commit.
  void settle()
  {
    DoneWaiter done;
    m_store->submit({[](store::Writer&) {}, done.callback()});
    done.wait();
  }

private:
  static protocol::Settings default_settings(const TempDir& dir)
  {
    protocol::ConfigSources sources;
    // No file and an environment of our own: the defaults, whatever the
    // machine's configuration says.
    sources.env = fake_env({{"HOME", dir.file("home")},
                            {"XDG_CONFIG_HOME", dir.file("config")},
                            {"XDG_CACHE_HOME", dir.file("cache")},
                            {"XDG_RUNTIME_DIR", dir.file("run")}});
    auto settings = protocol::Config::load(sources).settings();
    settings.database = dir.file("cache.db");
    return settings;
  }
  static std::unique_ptr<store::Store> open_store(const protocol::Settings& settings)
  {
    store::StoreOptions options;
    options.path = settings.database;
    options.limits = quiet_limits();
    options.on_error = [](const std::string& message) { FAIL_CHECK("store reported: " << message); };
    return std::make_unique<store::Store>(std::move(options));
  }
  // The store as the daemon runs it: what follows a commit
  // (commit_effects.hpp) hears every write, before the writer starts.
  std::unique_ptr<store::Reader> start_store()
  {
    m_store->observe(daemon::follow_vectors(m_index));
    m_store->observe(daemon::wake_waiters(m_leases));
    m_store->start();
    return m_store->open_reader();
  }
  static daemon::ServerInfo server_info(const protocol::Settings& settings)
  {
    daemon::ServerInfo out;
    out.socket = settings.socket;
    out.database = settings.database;
    out.foreground = true;
    out.started_ms = store::now_ms();
    out.started = std::chrono::steady_clock::now();
    return out;
  }

  TempDir m_dir;
  protocol::Settings m_settings = default_settings(m_dir);
  // Destroyed after the store, so that an answer the writer posts still has
  // somewhere to go.
  boost::asio::io_context m_io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> m_work{m_io.get_executor()};
  daemon::Metrics m_metrics{daemon::op_table().size()};
  daemon::LeaseTable m_leases;
  store::semantic::Index m_index{
    store::semantic::IndexParams{m_settings.semantic_m, m_settings.semantic_ef_construction, m_settings.semantic_ef}};
  std::unique_ptr<daemon::Embedder> m_embedder = daemon::make_embedder(m_settings);
  daemon::ServerInfo m_info = server_info(m_settings);
  std::unique_ptr<store::Store> m_store = open_store(m_settings);
  std::unique_ptr<store::Reader> m_reader = start_store();
  daemon::Shared m_shared{*m_store, m_metrics, m_leases, m_index, *m_embedder, m_info, [] {}};
  std::uint64_t m_next_connection = 1;
  std::uint64_t m_next_request = 1;
  Connection m_connection = connect();
  daemon::Context m_context{m_shared, *m_reader, m_settings, m_connection};
};

} // namespace omnicache::unit
