#pragma once

#include "daemon/embedder.hpp"
#include "daemon/leases.hpp"
#include "daemon/metrics.hpp"
#include "daemon/replication.hpp"
#include "protocol/config.hpp"
#include "protocol/message.hpp"
#include "protocol/ops/ops.hpp"
#include "store/semantic/index.hpp"
#include "store/store.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// One operation = one handler, listed in one table (table.cpp). Handlers know
// the store and the protocol, not sockets: a session hands them a request
// and a context, and sends back whatever reply they produce.
namespace omnicache::daemon {

struct ServerInfo
{
  std::string socket;
  std::string database;
  std::string config_file;
  bool foreground = false;
  std::int64_t started_ms = 0; // wall clock
  std::string proxy;           // HOST:PORT the HTTP proxy listens on, or empty
  std::chrono::steady_clock::time_point started;
};

// What a reload changed (reload.cpp): a setting's text before and after,
// masked as `config show` masks it, and whether it applies now or at the
// daemon's next start.
struct ConfigChange
{
  std::string key;
  std::string before;
  std::string after;
  bool live = true;
};

struct ReloadOutcome
{
  bool reloaded = false;
  std::string error; // why the new configuration was refused; the old one stays
  std::vector<ConfigChange> changes;
};

// Server-wide state every handler may use.
struct Shared
{
  store::Store& store;
  Metrics& metrics;
  LeaseTable& leases;
  store::semantic::Index& index;
  Embedder& embedder;
  const ServerInfo& info;
  std::function<void()> request_shutdown;
  Replication* replication = nullptr; // the shared Redis tier, when [tier.redis] url is set
  // Reads the configuration again from the file and environment the daemon
  // was started with, as SIGHUP does; `done` runs on the main thread.
  std::function<void(std::function<void(ReloadOutcome)>)> reload = {};
  // The configuration in force, with each value's origin. Thread-safe.
  std::function<std::shared_ptr<const protocol::Config>()> config = {};
};

// The client connection a request came on. Touched only on its own thread.
struct Connection
{
  std::uint64_t id = 0;
  bool open = true;
  boost::asio::any_io_executor executor; // for timers and work posted back to it
};

// What one call sees: the server, this thread's reader, the settings in
// force when the request arrived, and the connection it came on.
struct Context
{
  Shared& shared;
  store::Reader& reader;
  const protocol::Settings& settings;
  const std::shared_ptr<Connection>& connection;
};

using Completion = std::function<void(protocol::Reply)>;

// read: answered on the session's thread (at once, or later for a wait);
// write: queued to the writer, answered after commit (consecutive writes of
// one connection go to the writer together, in order); control: answered at
// once, after every earlier request of the connection.
using OpKind = protocol::ops::Kind;

// The daemon's side of one row of protocol::ops::op_table(): the handler.
struct OpSpec
{
  std::string_view name;
  OpKind kind;
  protocol::Reply (*sync)(Context&, const protocol::Request&);   // read and control
  void (*async)(Context&, const protocol::Request&, Completion); // write, and reads that wait
};

// In the order of protocol::ops::op_table(), so that op_index() is the same
// number in both.
std::span<const OpSpec> op_table();
const OpSpec* find_op(std::string_view name);
std::size_t op_index(const OpSpec& spec);

// What a handler that finishes later keeps of its Context: the session's
// Context lives only for the first call, these live as long as the work.
struct HeldContext
{
  explicit HeldContext(const Context& context)
    : shared(context.shared),
      reader(context.reader),
      settings(std::make_shared<protocol::Settings>(context.settings)),
      connection(context.connection)
  {
  }
  Context context() { return Context{shared, reader, *settings, connection}; }

  Shared& shared;
  store::Reader& reader;
  std::shared_ptr<const protocol::Settings> settings;
  std::shared_ptr<Connection> connection;
};

// A text's embedding with the configured embedder (embed.cpp). A remote
// embedder's vectors are kept in the tenant's embedding layer, so a text is
// sent to it once. `done` runs on the connection's thread; when the embedder
// fails, `vector` is empty and `warning` says why (the failure is counted).
struct Embedded
{
  std::vector<float> vector;
  std::string embedder; // the embedder's version
  std::string warning;
};
void embed_text(Context& context, std::string tenant, std::string text, std::function<void(Embedded)> done);

// The shared tier (tiered.cpp). After a local miss: the entry Redis holds,
// copied into the local store first; `done` runs on the connection's thread
// with the local hit (counted, as a hit or a miss), or nullopt, and whether
// the entry came from the shared tier.
void look_in_shared_tier(Context& context, std::string tenant, std::string key, std::string layer,
                         std::function<void(std::optional<store::Hit>, bool from_shared_tier)> done);

// The handlers, one file each.

} // namespace omnicache::daemon
