#include "daemon/tier/follower.hpp"

#include "protocol/error.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace omnicache::daemon::tier {

namespace {

constexpr int k_block_ms = 1000;
constexpr std::size_t k_batch = 256;
// Seconds of slack between Redis's start and the moment this daemon lost
// it, within which Redis can only have restarted after going down under us.
constexpr std::int64_t k_restart_slack_s = 2;

std::string
random_word()
{
  unsigned char bytes[12];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    throw protocol::Error(protocol::ErrorCode::io, "no random bytes for the shared tier's epoch");
  }
  std::string out;
  for (const unsigned char b : bytes) {
    out += fmt::format("{:02x}", b);
  }
  return out;
}

std::pair<std::uint64_t, std::uint64_t>
split_id(std::string_view id)
{
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
  const auto dash = id.find('-');
  std::from_chars(id.data(), id.data() + std::min(dash, id.size()), ms);
  if (dash != std::string_view::npos) {
    std::from_chars(id.data() + dash + 1, id.data() + id.size(), seq);
  }
  return {ms, seq};
}

// A field of a flat [name, value, ...] reply, or nullptr.
const RedisReply*
field(const RedisReply& reply, std::string_view name)
{
  for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    if (reply.elements[i].text == name) {
      return &reply.elements[i + 1];
    }
  }
  return nullptr;
}

std::int64_t
uptime_seconds(const std::string& info)
{
  const auto at = info.find("uptime_in_seconds:");
  std::int64_t seconds = 0;
  if (at != std::string::npos) {
    const char* start = info.data() + at + 18;
    std::from_chars(start, info.data() + info.size(), seconds);
  }
  return seconds;
}

} // namespace

int
compare_stream_ids(std::string_view a, std::string_view b)
{
  const auto left = split_id(a);
  const auto right = split_id(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

struct Follower::Found
{
  std::string epoch;
  std::int64_t uptime_s = 0;
  std::string last_generated = "0-0";
  std::optional<std::string> first_id;   // the oldest record still in the log
  std::optional<std::int64_t> length;
  std::optional<std::int64_t> entries_added; // Redis 7 and later: every record ever added
  bool last_read_kept = false; // the record we read last is still in the log
  std::string refused;         // an error reply, when Redis refused one of the questions
};

Follower::Follower(boost::asio::io_context& io, const TierOptions& options, boost::asio::ssl::context* tls,
                   const Keys& keys, std::string origin, TierCounters& counters,
                   std::atomic<std::uint64_t>& generation, std::function<void(const Invalidation&)> apply,
                   std::function<void()> settled)
  : m_io(io),
    m_options(options),
    m_keys(keys),
    m_origin(std::move(origin)),
    m_counters(counters),
    m_generation(generation),
    m_apply(std::move(apply)),
    m_settled(std::move(settled)),
    m_link(io, options.url, tls, options.connect_timeout, {[this] { up(); }, [this](const std::string& why) { down(why); }}),
    m_save_timer(io)
{
}

void
Follower::start()
{
  load_position();
  m_link.start();
  schedule_save();
}

void
Follower::stop()
{
  m_stopped = true;
  m_save_timer.cancel();
  m_link.stop();
  save_position();
}

void
Follower::up()
{
  ++m_session;
  begin();
}

void
Follower::down(const std::string&)
{
  if (auto settled = std::exchange(m_settled, nullptr)) {
    settled(); // Redis is away: the local tier serves as it is
  }
  if (m_following && m_caught_up) {
    m_lost_caught_up = std::chrono::steady_clock::now();
  }
  m_following = false;
  m_caught_up = false;
}

void
Follower::begin()
{
  auto* redis = m_link.ready();
  if (redis == nullptr) {
    return;
  }
  auto found = std::make_shared<Found>();
  const auto timeout = m_options.timeout + m_options.connect_timeout;
  auto ignore = [](const std::string&, const RedisReply&) {};
  redis->send({"SET", m_keys.epoch(), random_word(), "NX"}, timeout, ignore);
  redis->send({"GET", m_keys.epoch()}, timeout, [found](const std::string& error, const RedisReply& reply) {
    if (error.empty() && reply.type == RedisReply::Type::string) {
      found->epoch = reply.text;
    } else if (reply.is_error()) {
      found->refused = reply.text;
    }
  });
  redis->send({"INFO", "server"}, timeout, [found](const std::string& error, const RedisReply& reply) {
    if (error.empty()) {
      found->uptime_s = uptime_seconds(reply.text);
    }
  });
  redis->send({"XINFO", "STREAM", m_keys.log()}, timeout, [found](const std::string& error, const RedisReply& reply) {
    if (reply.is_error() && reply.text.find("no such key") == std::string::npos) {
      found->refused = reply.text;
    }
    if (!error.empty() || reply.type != RedisReply::Type::array) {
      return; // no log yet: ERR no such key
    }
    if (const auto* last = field(reply, "last-generated-id")) {
      found->last_generated = last->text;
    }
    if (const auto* length = field(reply, "length")) {
      found->length = length->integer;
    }
    if (const auto* added = field(reply, "entries-added")) {
      found->entries_added = added->integer;
    }
    if (const auto* first = field(reply, "recorded-first-entry-id")) {
      found->first_id = first->text;
    } else if (const auto* entry = field(reply, "first-entry"); entry != nullptr && !entry->elements.empty()) {
      found->first_id = entry->elements[0].text;
    }
  });
  redis->send({"XRANGE", m_keys.log(), m_position.last_id, m_position.last_id}, timeout,
              [this, found, session = m_session](const std::string& error, const RedisReply& reply) {
                if (!error.empty() || session != m_session || m_stopped) {
                  return; // the link reconnects and begins again
                }
                found->last_read_kept = reply.type == RedisReply::Type::array && !reply.elements.empty();
                if (reply.is_error()) {
                  found->refused = reply.text;
                }
                if (!found->refused.empty() || found->epoch.empty()) {
                  give_up(found->refused.empty() ? std::string("no epoch") : found->refused);
                  return;
                }
                decide(*found);
              });
}

void
Follower::decide(const Found& found)
{
  if (m_position.epoch.empty()) {
    // Joining for the first time: what was invalidated before concerns entries we never had.
    m_position = {found.epoch, found.last_generated};
  } else if (m_position.epoch == found.epoch) {
    // Trimming removes the oldest records first: while the last one we read
    // is there, so is everything after it. Without it, records after it may
    // be gone when the log lost any (Redis 7 counts them; older ones cannot
    // say, and we assume the worst).
    // A record we read that is gone means the log was trimmed past it or
    // made anew (deleted, evicted): either way records after it may be lost.
    const bool lost_some = !found.entries_added || !found.length || *found.entries_added > *found.length;
    const bool trimmed_past_us
      = m_position.last_id != "0-0"
          ? !found.last_read_kept
          : lost_some && found.first_id && compare_stream_ids(*found.first_id, m_position.last_id) > 0;
    if (trimmed_past_us) {
      resync("the invalidation log no longer reaches back to the last record this daemon read");
      m_position.last_id = found.last_generated;
    }
  } else {
    // Redis lost its data. If we were reading the log live when it went
    // down, nothing was invalidated that we did not see: every daemon's
    // later invalidations are in the new log, which we read from its start.
    const bool lost_under_us
      = m_lost_caught_up
        && found.uptime_s + k_restart_slack_s
             >= std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - *m_lost_caught_up)
                  .count();
    if (!lost_under_us) {
      resync("Redis lost its data (a new epoch) while this daemon was not following the invalidation log");
    }
    m_position = {found.epoch, "0-0"};
  }
  m_lost_caught_up.reset();
  m_dirty = true;
  m_following = true;
  read();
}

void
Follower::read()
{
  auto* redis = m_link.ready();
  if (redis == nullptr || m_stopped) {
    return;
  }
  // Until the log has been read to its end once, each read answers at once:
  // the daemon waits for that before serving.
  RedisCommand command{"XREAD", "COUNT", std::to_string(k_batch)};
  const bool block = !m_settled;
  if (block) {
    command.insert(command.end(), {"BLOCK", std::to_string(k_block_ms)});
  }
  command.insert(command.end(), {"STREAMS", m_keys.log(), m_position.last_id});
  redis->send(command,
              std::chrono::milliseconds(block ? k_block_ms : 0) + m_options.timeout + m_options.connect_timeout,
              [this, session = m_session](const std::string& error, const RedisReply& reply) {
                if (!error.empty() || session != m_session || m_stopped) {
                  return;
                }
                if (reply.is_error()) {
                  give_up(reply.text);
                  return;
                }
                received(reply);
                read();
              });
}

void
Follower::received(const RedisReply& reply)
{
  // nil: nothing new within the block. Else [[log, [[id, [field, value, ...]], ...]]].
  std::size_t records = 0;
  if (reply.type == RedisReply::Type::array && !reply.elements.empty()
      && reply.elements[0].elements.size() == 2) {
    for (const auto& record : reply.elements[0].elements[1].elements) {
      if (record.elements.size() != 2) {
        continue;
      }
      ++records;
      m_position.last_id = record.elements[0].text;
      m_dirty = true;
      const auto* origin = field(record.elements[1], "o");
      const auto* body = field(record.elements[1], "c");
      if (origin == nullptr || body == nullptr || origin->text == m_origin) {
        continue;
      }
      auto change = decode_invalidation(body->text);
      if (!change) {
        m_options.warn(fmt::format("shared tier: skipped invalidation record {} that this version cannot read",
                                   m_position.last_id));
        continue;
      }
      ++m_generation;
      ++m_counters[TierCounter::invalidations_applied];
      m_apply(*change);
    }
  }
  m_caught_up = records < k_batch;
  if (m_caught_up) {
    if (auto settled = std::exchange(m_settled, nullptr)) {
      settled();
    }
  }
}

void
Follower::give_up(const std::string& why)
{
  if (why != m_last_refusal) {
    m_last_refusal = why;
    m_options.warn(fmt::format("shared tier: Redis refused to serve the invalidation log ({}); reconnecting", why));
  }
  if (auto settled = std::exchange(m_settled, nullptr)) {
    settled();
  }
  if (auto* redis = m_link.ready()) {
    redis->close(why); // the link connects again after its backoff
  }
}

void
Follower::resync(const std::string& why)
{
  m_options.warn(fmt::format("shared tier: {}; dropping every local entry rather than serve one that was "
                             "invalidated",
                             why));
  ++m_counters[TierCounter::resyncs];
  ++m_generation;
  Invalidation everything;
  everything.kind = Invalidation::Kind::flush;
  everything.all_tenants = true;
  m_apply(everything);
}

void
Follower::load_position()
{
  std::ifstream in(m_options.position_file);
  if (!in) {
    return;
  }
  std::stringstream text;
  text << in.rdbuf();
  const auto saved = nlohmann::json::parse(text.str(), nullptr, false);
  if (saved.is_object() && saved.value("prefix", "") == m_options.prefix) {
    m_position.epoch = saved.value("epoch", "");
    m_position.last_id = saved.value("last_id", "0-0");
  }
}

void
Follower::save_position()
{
  if (!m_dirty || m_options.position_file.empty()) {
    return;
  }
  const std::string temporary = m_options.position_file + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << nlohmann::json{{"prefix", m_options.prefix}, {"epoch", m_position.epoch}, {"last_id", m_position.last_id}}
             .dump()
        << "\n";
    if (!out.flush()) {
      m_options.warn(fmt::format("shared tier: cannot write {}", temporary));
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, m_options.position_file, ec);
  if (ec) {
    m_options.warn(fmt::format("shared tier: cannot write {}: {}", m_options.position_file, ec.message()));
    return;
  }
  m_dirty = false;
}

void
Follower::schedule_save()
{
  m_save_timer.expires_after(std::chrono::seconds(1));
  m_save_timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec || m_stopped) {
      return;
    }
    save_position();
    schedule_save();
  });
}

} // namespace omnicache::daemon::tier
