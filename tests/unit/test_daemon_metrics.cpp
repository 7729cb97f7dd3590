#include "daemon/metrics.hpp"

#include "daemon/proxy/prometheus.hpp"
#include "daemon/tier/shared_tier.hpp"
#include "protocol/counters.hpp"
#include "tests/unit/store_fixture.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <string>

using namespace omnicache;
using protocol::FigureKind;
using protocol::ServerFigure;
using omnicache::unit::contains;

namespace {

// The daemon's shared state around a real store, and what a handler call
// needs beside it.
struct MetricsFixture
{
  unit::StoreFixture db;
  daemon::Metrics metrics{daemon::op_table().size()};
  daemon::LeaseTable leases;
  store::semantic::Index index{store::semantic::IndexParams{}};
  daemon::LexicalEmbedderAdapter embedder{store::semantic::LexicalConfig{}};
  daemon::ServerInfo info;
  daemon::Shared shared{db.store(), metrics, leases, index, embedder, info, [] {}};
  protocol::Settings settings;
  std::shared_ptr<daemon::Connection> connection = std::make_shared<daemon::Connection>();

  protocol::Json stats_reply()
  {
    const auto* op = daemon::find_op("stats");
    REQUIRE(op != nullptr);
    const bool answered_at_once = op->sync != nullptr;
    REQUIRE(answered_at_once);
    daemon::Context context{shared, db.reader(), settings, connection};
    protocol::Request request;
    request.id = 1;
    request.op = "stats";
    request.header = {{"id", 1}, {"op", "stats"}};
    const auto reply = op->sync(context, request);
    REQUIRE(reply.ok);
    return reply.header;
  }
};

bool
snake_case(std::string_view name)
{
  static const std::regex k_snake("[a-z][a-z0-9]*(_[a-z0-9]+)*");
  return std::regex_match(std::string(name), k_snake);
}

// Prometheus' convention: a counter's family ends in _total, a gauge's not.
bool
named_for_kind(std::string_view family, FigureKind kind)
{
  return family.ends_with("_total") == (kind == FigureKind::counter);
}

} // namespace

TEST_SUITE("daemon.metrics")
{
  TEST_CASE("every server figure has its own stats name and its own Prometheus family")
  {
    std::set<std::string_view> names;
    std::set<std::string_view> families;
    for (const auto& figure : protocol::k_server_figures) {
      CAPTURE(figure.name);
      CHECK(snake_case(figure.name));
      CHECK(names.insert(figure.name).second);
      CHECK(families.insert(figure.prometheus).second);
      CHECK(figure.prometheus.starts_with("omnicache_"));
      CHECK(named_for_kind(figure.prometheus, figure.kind));
      CHECK_FALSE(figure.help.empty());
    }
  }

  TEST_CASE("every tier counter has its own stats name and every one shown has a column")
  {
    std::set<std::string_view> names;
    std::set<std::string_view> columns;
    for (const auto& counter : protocol::k_tier_counters) {
      CAPTURE(counter.name);
      CHECK(snake_case(counter.name));
      CHECK(names.insert(counter.name).second);
      CHECK(counter.column.empty() == (counter.table == protocol::TierTable::none));
      if (!counter.column.empty()) {
        CHECK(columns.insert(counter.column).second);
      }
    }
  }

  TEST_CASE("the proxy's counters have Prometheus families of their own, apart from the daemon's")
  {
    std::set<std::string_view> families;
    for (const auto& figure : protocol::k_server_figures) {
      families.insert(figure.prometheus);
    }
    for (const auto& counter : daemon::proxy::k_proxy_counters) {
      CAPTURE(counter.prometheus);
      CHECK(counter.prometheus.starts_with("omnicache_proxy_"));
      CHECK(named_for_kind(counter.prometheus, counter.kind));
      CHECK(families.insert(counter.prometheus).second);
    }
  }

  TEST_CASE("the stats reply's server object holds every figure of the table and no other number")
  {
    MetricsFixture f;
    f.metrics.requests += 5;
    f.metrics.semantic_index_ms = 1500;
    const auto server = f.stats_reply()["server"];
    for (const auto& figure : protocol::k_server_figures) {
      CAPTURE(figure.name);
      REQUIRE(server.contains(std::string(figure.name)));
      CHECK(server[std::string(figure.name)].is_boolean() == (figure.unit == protocol::FigureUnit::flag));
    }
    CHECK(server["requests"] == 5);
    CHECK(server["semantic_index_ms"] == 1500);
    // What describes the daemon rather than counts anything.
    const std::set<std::string> descriptions{"pid", "started_ms", "uptime_s"};
    for (const auto& [name, value] : server.items()) {
      CAPTURE(name);
      if (value.is_number() && !descriptions.contains(name)) {
        const auto in_table = [&name](const auto& figure) { return figure.name == name; };
        CHECK(std::ranges::any_of(protocol::k_server_figures, in_table));
      }
    }
  }

  TEST_CASE("the tier keeps a counter for every row of its table")
  {
    daemon::tier::TierCounters counters;
    for (const auto& counter : protocol::k_tier_counters) {
      counters[counter.id] = 10 + static_cast<std::uint64_t>(counter.id);
    }
    for (const auto& counter : protocol::k_tier_counters) {
      CAPTURE(counter.name);
      CHECK(counters.value(counter.id) == 10 + static_cast<std::uint64_t>(counter.id));
    }
  }

  TEST_CASE("a reset zeroes the server's counters and keeps its gauges")
  {
    MetricsFixture f;
    for (const auto& figure : protocol::k_server_figures) {
      f.metrics[figure.id] = 7;
    }
    f.metrics.latency(0).record(std::chrono::microseconds(3));
    f.metrics.reset_counters();
    for (const auto& figure : protocol::k_server_figures) {
      CAPTURE(figure.name);
      CHECK(f.metrics.value(figure.id) == (figure.kind == FigureKind::counter ? 0 : 7));
    }
    CHECK(f.metrics.latency(0).count() == 0);
  }

  TEST_CASE("/metrics has a family of each figure's kind for every server and proxy figure")
  {
    MetricsFixture f;
    f.metrics.semantic_index_ms = 250;
    f.metrics.semantic_index_ready = true;
    daemon::proxy::ProxyMetrics proxy;
    proxy[daemon::proxy::ProxyCounter::response_bytes] += 42;
    const auto text = daemon::proxy::render_metrics(f.shared, &proxy);
    const auto type = [](FigureKind kind) { return kind == FigureKind::counter ? "counter" : "gauge"; };
    for (const auto& figure : protocol::k_server_figures) {
      CAPTURE(figure.prometheus);
      CHECK(contains(text, "# TYPE " + std::string(figure.prometheus) + " " + type(figure.kind) + "\n"));
    }
    for (const auto& counter : daemon::proxy::k_proxy_counters) {
      CAPTURE(counter.prometheus);
      CHECK(contains(text, "# TYPE " + std::string(counter.prometheus) + " " + type(counter.kind) + "\n"));
    }
    CHECK(contains(text, "\nomnicache_semantic_index_load_seconds 0.25\n"));
    CHECK(contains(text, "\nomnicache_semantic_index_ready 1\n"));
    CHECK(contains(text, "\nomnicache_proxy_response_bytes_total 42\n"));
  }
}
