#include "cli/warm/sender.hpp"

#include "cli/exit_codes.hpp"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

namespace omnicache::cli::warm {

namespace {

using protocol::Json;

// mset takes up to 100000 entries; the header limit (1 MiB by default, some
// 20000 short entries) mostly ends a request first.
constexpr std::size_t k_max_entries = 50000;
// Values per request: large enough that a request is not mostly overhead,
// small enough that the connections together hold little memory.
constexpr std::size_t k_max_values = std::size_t{16} << 20;
// The request's own fields (op, id, tenant, only_missing) and the array's
// brackets, generously.
constexpr std::size_t k_request_overhead = 4096;
// The most digits a number in a header can take.
constexpr std::size_t k_number_bytes = 20;

// The length of `text` as a JSON string: quotes, and escapes for '"', '\'
// and control characters (UTF-8 is written as is).
std::size_t
json_string_bytes(std::string_view text)
{
  std::size_t n = text.size() + 2;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      n += 1;
    } else if (byte < 0x20) {
      n += 5;
    }
  }
  return n;
}

// An upper bound of the entry's length in the mset header, as set_request()
// and the size make it: {"key":K,"layer":L,"meta":{...},"size":N,"tags":[...],
// "ttl_ms":N}, and the comma before it. Exact but for the numbers' digits, so
// that each request carries as many entries as the header limit allows.
std::size_t
header_bytes(const Entry& entry)
{
  std::size_t n = std::string_view(R"(,{"key":,"layer":,"size":})").size() + json_string_bytes(entry.key)
                  + json_string_bytes(entry.layer) + k_number_bytes;
  if (!entry.tags.empty()) {
    n += std::string_view(R"(,"tags":[])").size();
    for (const auto& tag : entry.tags) {
      n += json_string_bytes(tag) + 1;
    }
  }
  if (entry.ttl_ms) {
    n += std::string_view(R"(,"ttl_ms":)").size() + k_number_bytes;
  }
  if (entry.meta.is_object()) {
    n += std::string_view(R"(,"meta":{})").size();
    for (const auto& [name, value] : entry.meta.items()) {
      // Nested values (rare: a meta column) are measured by writing them.
      const std::size_t value_bytes = value.is_string() ? json_string_bytes(value.get_ref<const std::string&>())
                                      : value.is_structured() ? value.dump().size()
                                                              : k_number_bytes;
      n += json_string_bytes(name) + 2 + value_bytes;
    }
  }
  if (!entry.deps.is_null()) {
    n += std::string_view(R"(,"deps":)").size() + entry.deps.dump().size();
  }
  return n;
}

std::uint64_t
limit_of(const Json& server, const char* name, std::uint64_t fallback)
{
  const auto limits = server.find("limits");
  if (limits == server.end() || !limits->is_object()) {
    return fallback;
  }
  const auto it = limits->find(name);
  return it != limits->end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : fallback;
}

// The daemon names the entry it refuses: "entries[12]: key of ...".
std::optional<std::size_t>
refused_index(std::string_view message)
{
  constexpr std::string_view prefix = "entries[";
  if (!message.starts_with(prefix)) {
    return std::nullopt;
  }
  std::size_t index = 0;
  const char* begin = message.data() + prefix.size();
  const auto [end, error] = std::from_chars(begin, message.data() + message.size(), index);
  if (error != std::errc() || end == message.data() + message.size() || *end != ']') {
    return std::nullopt;
  }
  return index;
}

std::string_view
reason_of(std::string_view message)
{
  const auto colon = message.find("]: ");
  return colon == std::string_view::npos ? message : message.substr(colon + 3);
}

// Sends `entries` in one request; an entry the daemon refuses is reported as
// failed and the others are sent again.
void
send_entries(Client& client, std::span<const Entry* const> entries, bool only_missing, Report& report)
{
  while (!entries.empty()) {
    std::string refusal;
    try {
      Json list = Json::array();
      std::string values;
      for (const Entry* entry : entries) {
        auto fields = protocol::ops::to_header(set_request(*entry));
        fields["size"] = entry->value->size();
        list.push_back(std::move(fields));
        values += *entry->value;
      }
      protocol::ops::MsetRequest request;
      request.entries = std::move(list);
      request.only_missing = only_missing;
      request.value.bytes = values;
      const auto reply = client.call<protocol::ops::Mset>(request);
      report.add_stored(reply.stored, reply.skipped);
      return;
    } catch (const CliError& e) {
      if (e.exit_code() != k_exit_usage) {
        throw;
      }
      refusal = e.what();
    }
    // Entries before a refused one passed the daemon's checks: send them,
    // report the refused one, and go on with the rest. Without an index,
    // halve the request until the refusal is pinned to one entry.
    if (const auto index = refused_index(refusal); index && *index < entries.size()) {
      send_entries(client, entries.first(*index), only_missing, report);
      report.fail(entries[*index]->line, reason_of(refusal));
      entries = entries.subspan(*index + 1);
    } else if (entries.size() == 1) {
      report.fail(entries.front()->line, refusal);
      return;
    } else {
      const std::size_t half = entries.size() / 2;
      send_entries(client, entries.first(half), only_missing, report);
      entries = entries.subspan(half);
    }
  }
}

// In key order, the daemon's index inserts walk its B-tree once instead of
// jumping around it. Stable, so that the later of two rows for one key
// still comes last; pointers, because entries are heavy to move.
std::vector<const Entry*>
in_key_order(const std::vector<Entry>& batch)
{
  std::vector<const Entry*> order;
  order.reserve(batch.size());
  for (const auto& entry : batch) {
    order.push_back(&entry);
  }
  std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) { return a->key < b->key; });
  return order;
}

} // namespace

BatchLimits
batch_limits(const Json& server, const protocol::Settings& settings)
{
  const auto header = limit_of(server, "max_header_bytes", settings.max_header_bytes);
  const auto frame = limit_of(server, "max_frame_bytes", settings.max_frame_bytes);
  BatchLimits limits;
  limits.max_entries = k_max_entries;
  limits.max_header_bytes = header > k_request_overhead * 2 ? header - k_request_overhead : header / 2;
  limits.max_value_bytes = std::min<std::uint64_t>(k_max_values, frame > header ? frame - header : 0);
  return limits;
}


// One connection and the thread that sends on it. `ready` is the one batch
// handed over and not yet taken: the reader waits while it is full.
struct MsetPipeline::Lane
{
  Lane(Client c, bool missing, Report& r)
    : client(std::move(c)),
      only_missing(missing),
      report(r)
  {
  }

  void run()
  {
    for (;;) {
      std::vector<Entry> batch;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [this] { return ready || closing; });
        if (!ready || abandoned) {
          return;
        }
        batch = std::move(*ready);
        ready.reset();
        busy = true;
      }
      changed.notify_all();
      try {
        send_entries(client, in_key_order(batch), only_missing, report);
      } catch (...) {
        const std::lock_guard lock(mutex);
        error = std::current_exception();
        busy = false;
        changed.notify_all();
        return;
      }
      const std::lock_guard lock(mutex);
      busy = false;
      changed.notify_all();
    }
  }

  // Call with `mutex` held.
  void rethrow_error() const
  {
    if (error) {
      std::rethrow_exception(error);
    }
  }

  Client client;
  bool only_missing;
  Report& report;
  std::vector<Entry> building;
  std::size_t header_bytes = 0;
  std::size_t value_bytes = 0;

  std::mutex mutex;
  std::condition_variable changed;
  std::optional<std::vector<Entry>> ready;
  bool busy = false;
  bool closing = false;
  bool abandoned = false;
  std::exception_ptr error;
  std::thread worker;
};

MsetPipeline::MsetPipeline(std::vector<Client> clients, BatchLimits limits, bool only_missing, Report& report)
  : m_limits(limits)
{
  for (auto& client : clients) {
    m_lanes.push_back(std::make_unique<Lane>(std::move(client), only_missing, report));
  }
  for (auto& lane : m_lanes) {
    lane->worker = std::thread([lane = lane.get()] { lane->run(); });
  }
}

MsetPipeline::~MsetPipeline()
{
  for (auto& lane : m_lanes) {
    {
      const std::lock_guard lock(lane->mutex);
      lane->closing = true;
      lane->abandoned = true;
    }
    lane->changed.notify_all();
  }
  for (auto& lane : m_lanes) {
    if (lane->worker.joinable()) {
      lane->worker.join();
    }
  }
}

void
MsetPipeline::add(Entry&& entry)
{
  auto& lane = *m_lanes[std::hash<std::string>{}(entry.key) % m_lanes.size()];
  const std::size_t header = header_bytes(entry);
  const std::size_t value = entry.value->size();
  if (!lane.building.empty()
      && (lane.building.size() >= m_limits.max_entries || lane.header_bytes + header > m_limits.max_header_bytes
          || lane.value_bytes + value > m_limits.max_value_bytes)) {
    hand_over(lane);
  }
  lane.header_bytes += header;
  lane.value_bytes += value;
  lane.building.push_back(std::move(entry));
}

void
MsetPipeline::hand_over(Lane& lane)
{
  const std::size_t size = lane.building.size();
  {
    std::unique_lock lock(lane.mutex);
    lane.changed.wait(lock, [&lane] { return !lane.ready || lane.error; });
    lane.rethrow_error();
    lane.ready = std::move(lane.building);
  }
  lane.changed.notify_all();
  lane.building = {};
  lane.building.reserve(size); // the next batch is likely as large
  lane.header_bytes = 0;
  lane.value_bytes = 0;
}

void
MsetPipeline::finish()
{
  for (auto& lane : m_lanes) {
    if (!lane->building.empty()) {
      hand_over(*lane);
    }
  }
  for (auto& lane : m_lanes) {
    std::unique_lock lock(lane->mutex);
    lane->changed.wait(lock, [&lane] { return (!lane->ready && !lane->busy) || lane->error; });
    lane->rethrow_error();
  }
}

} // namespace omnicache::cli::warm
