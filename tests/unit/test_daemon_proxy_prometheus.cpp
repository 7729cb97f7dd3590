#include "daemon/proxy/prometheus.hpp"

#include "tests/unit/store_fixture.hpp"

#include <doctest/doctest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace omnicache;
using namespace omnicache::daemon::proxy;
using omnicache::unit::contains;

namespace {

struct Sample
{
  std::string name;
  std::map<std::string, std::string> labels; // values unescaped
  double value = 0;
};

// Parses `{a="x",b="y"}` at `pos`, unescaping the values; false when malformed.
bool
parse_labels(const std::string& line, std::size_t& pos, std::map<std::string, std::string>& labels)
{
  static const std::regex k_label_name("[a-zA-Z_][a-zA-Z0-9_]*");
  ++pos; // '{'
  while (pos < line.size() && line[pos] != '}') {
    const auto eq = line.find("=\"", pos);
    if (eq == std::string::npos || !std::regex_match(line.substr(pos, eq - pos), k_label_name)) {
      return false;
    }
    const std::string name = line.substr(pos, eq - pos);
    std::string value;
    pos = eq + 2;
    for (; pos < line.size() && line[pos] != '"'; ++pos) {
      if (line[pos] == '\\') {
        if (++pos == line.size()) {
          return false;
        }
        const char c = line[pos];
        if (c != '\\' && c != '"' && c != 'n') {
          return false;
        }
        value += c == 'n' ? '\n' : c;
      } else {
        value += line[pos];
      }
    }
    if (pos == line.size() || !labels.emplace(name, value).second) {
      return false;
    }
    ++pos; // closing quote
    if (pos < line.size() && line[pos] == ',') {
      ++pos;
    }
  }
  if (pos == line.size()) {
    return false;
  }
  ++pos; // '}'
  return true;
}

// Checks the text line by line as Prometheus' text format 0.0.4 and returns
// its samples; every problem is a failed check naming the line.
std::vector<Sample>
parse_exposition(const std::string& text)
{
  static const std::regex k_name("[a-zA-Z_:][a-zA-Z0-9_:]*");
  std::vector<Sample> samples;
  std::map<std::string, std::string> types; // family -> type, from # TYPE
  std::set<std::string> helped;
  std::set<std::string> finished; // families whose samples are over
  std::string current;
  REQUIRE_FALSE(text.empty());
  CHECK(text.back() == '\n');
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    CAPTURE(line);
    REQUIRE_FALSE(line.empty());
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      std::istringstream words(line.substr(7));
      std::string family;
      std::string rest;
      words >> family >> rest;
      CHECK(std::regex_match(family, k_name));
      CHECK_FALSE(rest.empty());
      if (family != current) {
        CHECK(finished.insert(current).second);
        CHECK_FALSE(finished.count(family));
        current = family;
      }
      if (line[2] == 'H') {
        CHECK(helped.insert(family).second);
      } else {
        CHECK(helped.count(family) == 1); // HELP, then TYPE
        CHECK((rest == "counter" || rest == "gauge" || rest == "histogram"));
        CHECK(types.emplace(family, rest).second);
      }
      continue;
    }
    REQUIRE(line[0] != '#');
    Sample sample;
    std::size_t pos = line.find_first_of("{ ");
    REQUIRE(pos != std::string::npos);
    sample.name = line.substr(0, pos);
    CHECK(std::regex_match(sample.name, k_name));
    if (line[pos] == '{') {
      REQUIRE(parse_labels(line, pos, sample.labels));
    }
    REQUIRE(pos < line.size());
    REQUIRE(line[pos] == ' ');
    const std::string value = line.substr(pos + 1);
    std::size_t used = 0;
    sample.value = std::stod(value, &used);
    CHECK(used == value.size());
    // The sample belongs to the family announced last.
    std::string family = sample.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (family.ends_with(suffix) && types.count(family.substr(0, family.size() - std::string(suffix).size()))
          && types.at(family.substr(0, family.size() - std::string(suffix).size())) == "histogram") {
        family.erase(family.size() - std::string(suffix).size());
      }
    }
    CHECK(family == current);
    REQUIRE(types.count(family) == 1);
    if (types.at(family) == "counter") {
      CHECK(sample.name.ends_with("_total"));
      CHECK(sample.value >= 0);
    }
    if (types.at(family) == "histogram") {
      CHECK(sample.name != family);
      CHECK(family.ends_with("_seconds"));
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

// Every histogram series: buckets non-decreasing in value and in le, ending
// with +Inf equal to _count. Returns how many series were checked.
int
check_histograms(const std::vector<Sample>& samples)
{
  int series = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (!samples[i].name.ends_with("_bucket")) {
      continue;
    }
    const std::string family = samples[i].name.substr(0, samples[i].name.size() - 7);
    auto labels = samples[i].labels;
    labels.erase("le");
    CAPTURE(family);
    double last_value = -1;
    double last_le = -1;
    for (; i < samples.size() && samples[i].name == family + "_bucket"; ++i) {
      auto own = samples[i].labels;
      REQUIRE(own.count("le") == 1);
      const std::string le = own.at("le");
      own.erase("le");
      if (own != labels) {
        break;
      }
      const double edge = le == "+Inf" ? 1e300 : std::stod(le);
      CHECK(edge > last_le);
      CHECK(samples[i].value >= last_value);
      last_le = edge;
      last_value = samples[i].value;
    }
    CHECK(last_le == 1e300);
    REQUIRE(i + 1 < samples.size());
    CHECK(samples[i].name == family + "_sum");
    CHECK(samples[i].labels == labels);
    CHECK(samples[i + 1].name == family + "_count");
    CHECK(samples[i + 1].labels == labels);
    CHECK(samples[i + 1].value == last_value);
    ++series;
    --i;
  }
  return series;
}

const Sample*
find(const std::vector<Sample>& samples, std::string_view name, const std::map<std::string, std::string>& labels)
{
  for (const auto& sample : samples) {
    if (sample.name == name && sample.labels == labels) {
      return &sample;
    }
  }
  return nullptr;
}

double
value_of(const std::vector<Sample>& samples, std::string_view name, const std::map<std::string, std::string>& labels)
{
  const auto* sample = find(samples, name, labels);
  CAPTURE(name);
  REQUIRE(sample != nullptr);
  return sample->value;
}

// The daemon's shared state around a real store in a temporary folder.
struct DaemonFixture
{
  unit::StoreFixture db;
  daemon::Metrics metrics{daemon::op_table().size()};
  daemon::LeaseTable leases;
  store::semantic::Index index{store::semantic::IndexParams{}};
  daemon::LexicalEmbedderAdapter embedder{store::semantic::LexicalConfig{}};
  daemon::ServerInfo info = [] {
    daemon::ServerInfo out;
    out.started_ms = 1'700'000'000'000;
    out.started = std::chrono::steady_clock::now();
    return out;
  }();
  daemon::Shared shared{db.store(), metrics, leases, index, embedder, info, [] {}};
};

std::chrono::nanoseconds
micros(std::int64_t n)
{
  return std::chrono::microseconds(n);
}

} // namespace

TEST_SUITE("daemon.proxy.prometheus")
{
  TEST_CASE("label values escape backslash quote and newline")
  {
    CHECK(escape_label("plain") == "plain");
    CHECK(escape_label("a\\b") == "a\\\\b");
    CHECK(escape_label("say \"hi\"") == "say \\\"hi\\\"");
    CHECK(escape_label("two\nlines") == "two\\nlines");
    CHECK(escape_label("") == "");
  }

  TEST_CASE("a histogram exports cumulative buckets up to +Inf, its sum in seconds and its count")
  {
    daemon::LatencyHistogram histogram;
    histogram.record(micros(5));          // under the first edge, 10 us
    histogram.record(micros(2000));       // 2 ms
    histogram.record(micros(2000));
    histogram.record(std::chrono::seconds(90)); // between 60 s and 120 s
    histogram.record(std::chrono::seconds(1000)); // past the last edge
    Exposition out;
    out.family("omnicache_test_seconds", "histogram", "A test.");
    out.histogram("omnicache_test_seconds", {{"operation", "get"}}, histogram);
    const auto samples = parse_exposition(out.text());
    CHECK(check_histograms(samples) == 1);
    auto bucket = [&](const char* le) {
      return value_of(samples, "omnicache_test_seconds_bucket", {{"operation", "get"}, {"le", le}});
    };
    CHECK(bucket("0.00001") == 1);
    CHECK(bucket("0.001") == 1);
    CHECK(bucket("0.0025") == 3);
    CHECK(bucket("60") == 3);
    CHECK(bucket("120") == 4);
    CHECK(bucket("300") == 4);
    CHECK(bucket("+Inf") == 5);
    CHECK(value_of(samples, "omnicache_test_seconds_count", {{"operation", "get"}}) == 5);
    CHECK(value_of(samples, "omnicache_test_seconds_sum", {{"operation", "get"}})
          == doctest::Approx(1090.004005).epsilon(1e-12));
    CHECK(samples.size() == k_histogram_edges.size() + 3);
  }

  TEST_CASE("an empty histogram has zero buckets and a zero count")
  {
    daemon::LatencyHistogram histogram;
    const auto figures = histogram.cumulative(std::vector<std::chrono::nanoseconds>{micros(1), micros(10)});
    CHECK(figures.at_most == std::vector<std::uint64_t>{0, 0});
    CHECK(figures.count == 0);
    CHECK(figures.sum.count() == 0);
  }

  TEST_CASE("store counters and gauges are exported per tenant and layer with escaped labels")
  {
    std::map<store::Scope, store::ScopeStats> scopes;
    auto& kv = scopes[{"default", "kv"}];
    kv.counters[static_cast<std::size_t>(store::Counter::hits)] = 7;
    kv.counters[static_cast<std::size_t>(store::Counter::evictions)] = 2;
    kv.gauges.entries = 3;
    kv.gauges.stored_bytes = 300;
    auto& odd = scopes[{"te\"n\\ant\n", "response"}];
    odd.counters[static_cast<std::size_t>(store::Counter::misses)] = 4;
    Exposition out;
    write_store(out, scopes);
    CHECK(contains(out.text(), "omnicache_misses_total{tenant=\"te\\\"n\\\\ant\\n\",layer=\"response\"} 4\n"));
    const auto samples = parse_exposition(out.text());
    for (const auto& info : store::k_counter_info) {
      CAPTURE(info.name);
      const std::string name = "omnicache_" + std::string(info.name) + "_total";
      const auto* sample = find(samples, name, {{"tenant", "default"}, {"layer", "kv"}});
      REQUIRE(sample != nullptr);
      CHECK(sample->value == static_cast<double>(kv.counters[static_cast<std::size_t>(info.id)]));
    }
    CHECK(value_of(samples, "omnicache_misses_total", {{"tenant", "te\"n\\ant\n"}, {"layer", "response"}}) == 4);
    CHECK(value_of(samples, "omnicache_entries", {{"tenant", "default"}, {"layer", "kv"}}) == 3);
    CHECK(value_of(samples, "omnicache_stored_bytes", {{"tenant", "default"}, {"layer", "kv"}}) == 300);
    CHECK(value_of(samples, "omnicache_entries", {{"tenant", "te\"n\\ant\n"}, {"layer", "response"}}) == 0);
  }

  TEST_CASE("the proxy exports every endpoint and outcome and a duration histogram for those it saw")
  {
    ProxyMetrics proxy;
    proxy.count_request(Endpoint::chat, Outcome::hit, micros(300));
    proxy.count_request(Endpoint::chat, Outcome::hit, micros(400));
    proxy.count_request(Endpoint::messages, Outcome::miss, std::chrono::seconds(3));
    proxy.count_upstream(Endpoint::messages, 200, std::chrono::milliseconds(800));
    proxy.count_upstream(Endpoint::chat, 0, std::chrono::seconds(600));
    proxy.count_upstream(Endpoint::other, 404, micros(50));
    proxy.count_upstream(Endpoint::other, 503, micros(50));
    proxy.streams_broken += 1;
    proxy.bytes_in += 1234;
    CHECK(proxy.requests(Endpoint::chat, Outcome::hit) == 2);
    CHECK(proxy.requests(Endpoint::chat, Outcome::miss) == 0);

    Exposition out;
    write_proxy(out, proxy);
    const auto samples = parse_exposition(out.text());
    CHECK(check_histograms(samples) == 4); // chat/hit, messages/miss; upstream messages and other
    for (const auto endpoint : k_endpoint_names) {
      for (const auto outcome : k_outcome_names) {
        CHECK(find(samples, "omnicache_proxy_requests_total",
                   {{"endpoint", std::string(endpoint)}, {"outcome", std::string(outcome)}})
              != nullptr);
      }
    }
    CHECK(value_of(samples, "omnicache_proxy_requests_total", {{"endpoint", "chat_completions"}, {"outcome", "hit"}})
          == 2);
    CHECK(value_of(samples, "omnicache_proxy_request_duration_seconds_count",
                   {{"endpoint", "chat_completions"}, {"outcome", "hit"}})
          == 2);
    CHECK(value_of(samples, "omnicache_proxy_request_duration_seconds_bucket",
                   {{"endpoint", "messages"}, {"outcome", "miss"}, {"le", "2.5"}})
          == 0);
    CHECK(value_of(samples, "omnicache_proxy_request_duration_seconds_bucket",
                   {{"endpoint", "messages"}, {"outcome", "miss"}, {"le", "5"}})
          == 1);
    CHECK(find(samples, "omnicache_proxy_request_duration_seconds_count",
               {{"endpoint", "embeddings"}, {"outcome", "hit"}})
          == nullptr);
    CHECK(value_of(samples, "omnicache_proxy_upstream_responses_total",
                   {{"endpoint", "chat_completions"}, {"status", "none"}})
          == 1);
    CHECK(value_of(samples, "omnicache_proxy_upstream_responses_total", {{"endpoint", "other"}, {"status", "4xx"}})
          == 1);
    CHECK(value_of(samples, "omnicache_proxy_upstream_responses_total", {{"endpoint", "other"}, {"status", "5xx"}})
          == 1);
    CHECK(value_of(samples, "omnicache_proxy_upstream_responses_total", {{"endpoint", "messages"}, {"status", "2xx"}})
          == 1);
    // No answer, so no time to its head.
    CHECK(find(samples, "omnicache_proxy_upstream_duration_seconds_count", {{"endpoint", "chat_completions"}})
          == nullptr);
    CHECK(value_of(samples, "omnicache_proxy_streams_broken_total", {}) == 1);
    CHECK(value_of(samples, "omnicache_proxy_request_bytes_total", {}) == 1234);
  }

  TEST_CASE("the endpoint of each cached API")
  {
    CHECK(endpoint_of(Api::chat) == Endpoint::chat);
    CHECK(endpoint_of(Api::completions) == Endpoint::completions);
    CHECK(endpoint_of(Api::embeddings) == Endpoint::embeddings);
    CHECK(endpoint_of(Api::messages) == Endpoint::messages);
  }

  TEST_CASE("the whole exposition of a daemon parses and holds its figures")
  {
    DaemonFixture f;
    CHECK_FALSE(f.db.set("k", "value", f.db.t0)); // new, not a replacement
    CHECK(f.db.get("k", f.db.t0) == "value");
    CHECK_FALSE(f.db.get("absent", f.db.t0));
    const auto* get = daemon::find_op("get");
    REQUIRE(get != nullptr);
    f.metrics.latency(daemon::op_index(*get)).record(micros(20));
    f.metrics.requests += 3;
    f.metrics.errors += 1;
    f.metrics.connections_total += 2;
    ProxyMetrics proxy;
    proxy.count_request(Endpoint::embeddings, Outcome::bypass, micros(900));

    const std::string text = render_metrics(f.shared, &proxy);
    const auto samples = parse_exposition(text);
    CHECK(check_histograms(samples) == 2); // get's latency, the proxy's embeddings/bypass
    CHECK(value_of(samples, "omnicache_requests_total", {}) == 3);
    CHECK(value_of(samples, "omnicache_errors_total", {}) == 1);
    CHECK(value_of(samples, "omnicache_connections_total", {}) == 2);
    CHECK(value_of(samples, "omnicache_start_time_seconds", {}) == 1'700'000'000);
    CHECK(value_of(samples, "omnicache_uptime_seconds", {}) >= 0);
    CHECK(value_of(samples, "omnicache_semantic_vectors", {}) == 0);
    CHECK(value_of(samples, "omnicache_hits_total", {{"tenant", "default"}, {"layer", "kv"}}) == 1);
    CHECK(value_of(samples, "omnicache_misses_total", {{"tenant", "default"}, {"layer", "kv"}}) >= 1);
    CHECK(value_of(samples, "omnicache_sets_total", {{"tenant", "default"}, {"layer", "kv"}}) == 1);
    CHECK(value_of(samples, "omnicache_entries", {{"tenant", "default"}, {"layer", "kv"}}) == 1);
    CHECK(value_of(samples, "omnicache_operation_duration_seconds_count", {{"operation", "get"}}) == 1);
    CHECK(value_of(samples, "omnicache_proxy_requests_total", {{"endpoint", "embeddings"}, {"outcome", "bypass"}})
          == 1);

    // Without the proxy, none of its families.
    const std::string daemon_only = render_metrics(f.shared, nullptr);
    parse_exposition(daemon_only);
    CHECK_FALSE(contains(daemon_only, "omnicache_proxy_"));
    CHECK(contains(daemon_only, "# TYPE omnicache_hits_total counter\n"));
  }

  TEST_CASE("provider prompt-cache usage is counted per tenant and model with the cost it saved")
  {
    DaemonFixture f;
    protocol::Settings settings;
    settings.prices["gpt-4o"] = protocol::Price{2.5, 10, 1.25};
    settings.prices["claude"] = protocol::Price{3, 15, std::nullopt};
    count_provider_usage(f.shared, settings, "team", "gpt-4o", 1000, 0);
    count_provider_usage(f.shared, settings, "team", "gpt-4o", 600, 0);
    count_provider_usage(f.shared, settings, "team", "claude", 50, 700);
    count_provider_usage(f.shared, settings, "team", "unpriced", 0, 0); // nothing to count
    auto values = [&](const char* model) {
      return f.db.store().stats().model_snapshot().at({"team", model});
    };
    using store::ModelCounter;
    auto at = [](const store::ModelValues& v, ModelCounter c) { return v[static_cast<std::size_t>(c)]; };
    const auto gpt = values("gpt-4o");
    CHECK(at(gpt, ModelCounter::provider_cached_tokens) == 1600);
    CHECK(at(gpt, ModelCounter::provider_cache_write_tokens) == 0);
    // 1600 tokens x (2.5 - 1.25) USD per million = 0.002 USD.
    CHECK(at(gpt, ModelCounter::provider_cost_nanousd) == 2'000'000);
    CHECK(at(gpt, ModelCounter::hits) == 0);
    const auto claude = values("claude");
    CHECK(at(claude, ModelCounter::provider_cached_tokens) == 50);
    CHECK(at(claude, ModelCounter::provider_cache_write_tokens) == 700);
    CHECK(at(claude, ModelCounter::provider_cost_nanousd) == 0); // no cached_input price
    CHECK(f.db.store().stats().model_snapshot().count({"team", "unpriced"}) == 0);

    const auto samples = parse_exposition(render_metrics(f.shared, nullptr));
    CHECK(value_of(samples, "omnicache_model_provider_cached_tokens_total", {{"tenant", "team"}, {"model", "gpt-4o"}})
          == 1600);
    CHECK(value_of(samples, "omnicache_model_provider_cost_saved_nanousd_total",
                   {{"tenant", "team"}, {"model", "gpt-4o"}})
          == 2'000'000);

    // They are kept in the database like the other counters.
    f.db.reopen();
    const auto reloaded = f.db.store().stats().model_snapshot().at({"team", "claude"});
    CHECK(at(reloaded, ModelCounter::provider_cache_write_tokens) == 700);
    CHECK(at(reloaded, ModelCounter::provider_cached_tokens) == 50);
  }
}
