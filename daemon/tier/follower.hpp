#pragma once

#include "daemon/tier/keys.hpp"
#include "daemon/tier/link.hpp"
#include "daemon/tier/shared_tier.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace omnicache::daemon::tier {

// Follows the invalidation log (XREAD BLOCK on its own connection) and hands
// every record another daemon wrote to `apply`.
//
// Where it stands in the log (the Redis epoch and the last record's id) is
// kept in a file, so a daemon that was stopped or cut off reads what it
// missed when it comes back. When it cannot know what it missed (the log was
// trimmed past its place, or Redis lost its data while the daemon was not
// following), it empties its local store instead: a cache may forget, it
// must not serve what was invalidated.
class Follower
{
public:
  Follower(boost::asio::io_context& io, const TierOptions& options, boost::asio::ssl::context* tls, const Keys& keys,
           std::string origin, TierCounters& counters, std::atomic<std::uint64_t>& generation,
           std::function<void(const Invalidation&)> apply, std::function<void()> settled);

  void start();
  // Saves the position.
  void stop();

private:
  struct Position
  {
    std::string epoch;
    std::string last_id = "0-0";
  };
  struct Found; // what begin() learns of Redis before following

  void up();
  void down(const std::string& why);
  void begin();
  void decide(const Found& found);
  void read();
  void received(const RedisReply& reply);
  void resync(const std::string& why);
  // Redis answered with an error: say so (once), and connect again later.
  void give_up(const std::string& why);
  void load_position();
  void save_position();
  void schedule_save();

  boost::asio::io_context& m_io;
  const TierOptions& m_options;
  const Keys& m_keys;
  std::string m_origin;
  TierCounters& m_counters;
  std::atomic<std::uint64_t>& m_generation;
  std::function<void(const Invalidation&)> m_apply;
  // Called once: when the log was first read to its end (everything missed
  // handed to m_apply), or when Redis could not be reached before that.
  std::function<void()> m_settled;
  Link m_link;
  boost::asio::steady_timer m_save_timer;
  Position m_position;
  bool m_dirty = false;
  bool m_following = false;
  bool m_caught_up = false;
  // When this process lost a connection on which it had read the whole log.
  std::optional<std::chrono::steady_clock::time_point> m_lost_caught_up;
  std::uint64_t m_session = 0; // tells the reads of one connection from the next
  bool m_stopped = false;
  std::string m_last_refusal;
};

// Compares two stream ids ("ms-seq"): <0, 0, >0.
int compare_stream_ids(std::string_view a, std::string_view b);

} // namespace omnicache::daemon::tier
