#include "cli/commands/stats_watch.hpp"

#include "cli/client.hpp"
#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "protocol/counters.hpp"
#include "protocol/error.hpp"
#include "protocol/units.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace omnicache::cli {

namespace {

using protocol::Json;
using protocol::ServerFigure;
using Clock = std::chrono::steady_clock;

// How long a lost daemon has to answer again (a restart) before the watch
// gives up, and how often it asks meanwhile.
constexpr auto k_reconnect_grace = std::chrono::seconds(2);
constexpr auto k_reconnect_step = std::chrono::milliseconds(100);

// Signal handlers can only set flags and write to a pipe, which wakes the
// poll that stands in for sleep so that Ctrl-C ends the watch at once.
int g_wake_pipe[2] = {-1, -1};
volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_resized = 0;

void
on_signal(int signal)
{
  const int saved = errno;
  if (signal == SIGWINCH) {
    g_resized = 1;
  } else {
    g_stop = 1;
  }
  [[maybe_unused]] const auto n = write(g_wake_pipe[1], "x", 1);
  errno = saved;
}

enum class Wake { due, stop, resize };

// SIGINT and SIGTERM (and SIGWINCH on a terminal) handled while it lives.
class Signals
{
public:
  explicit Signals(bool resize)
  {
    if (pipe2(g_wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw CliError(k_exit_daemon, fmt::format("pipe: {}", std::strerror(errno)));
    }
    g_stop = 0;
    g_resized = 0;
    struct sigaction action{};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: a blocked read or poll returns EINTR
    sigaction(SIGINT, &action, &m_old_int);
    sigaction(SIGTERM, &action, &m_old_term);
    if (resize) {
      sigaction(SIGWINCH, &action, &m_old_winch);
      m_resize = true;
    }
  }

  ~Signals()
  {
    sigaction(SIGINT, &m_old_int, nullptr);
    sigaction(SIGTERM, &m_old_term, nullptr);
    if (m_resize) {
      sigaction(SIGWINCH, &m_old_winch, nullptr);
    }
    close(g_wake_pipe[0]);
    close(g_wake_pipe[1]);
    g_wake_pipe[0] = g_wake_pipe[1] = -1;
  }

  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  static bool stopped() { return g_stop != 0; }

  // Sleeps until `deadline`, or less when a signal comes.
  static Wake
  sleep_until(Clock::time_point deadline)
  {
    for (;;) {
      if (g_stop != 0) {
        return Wake::stop;
      }
      if (g_resized != 0) {
        g_resized = 0;
        return Wake::resize;
      }
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        return Wake::due;
      }
      pollfd wake{g_wake_pipe[0], POLLIN, 0};
      if (poll(&wake, 1, static_cast<int>(std::min<std::int64_t>(left, 1 << 30))) > 0) {
        char drain[64];
        while (read(g_wake_pipe[0], drain, sizeof drain) > 0) {
        }
      }
    }
  }

private:
  struct sigaction m_old_int{};
  struct sigaction m_old_term{};
  struct sigaction m_old_winch{};
  bool m_resize = false;
};

struct Reading
{
  Json stats;
  Clock::time_point at;
  std::int64_t wall_ms = 0;
  std::uint64_t requests = 1; // sent to take it: the stats, after a hello on a new connection
};

bool
lost_daemon(const CliError& e)
{
  const std::string suffix = fmt::format("({})", protocol::error_code_name(protocol::ErrorCode::shutting_down));
  return e.exit_code() == k_exit_unreachable || std::string_view(e.what()).ends_with(suffix);
}

// The daemon's stats, over one connection kept open. The first connection may
// start a daemon, as every command does; a later one never does: a daemon that
// went away mid-watch was stopped on purpose or failed, and one started behind
// the user's back would show other figures under the same title.
class Source
{
public:
  Source(Globals& globals, bool all_tenants)
    : m_globals(globals),
      m_all_tenants(all_tenants)
  {
    m_client.emplace(Client::connect(globals));
  }

  // Nothing when a signal asked to stop while the daemon was away.
  std::optional<Reading>
  read()
  {
    std::string first;
    try {
      return take();
    } catch (const CliError& e) {
      if (!lost_daemon(e)) {
        throw;
      }
      first = e.what();
    }
    const auto give_up = Clock::now() + k_reconnect_grace;
    std::string last;
    do {
      try {
        m_client.reset();
        m_client.emplace(Client::connect(m_globals, Client::Start::never));
        auto reading = take();
        reading.requests = 2;
        return reading;
      } catch (const CliError& e) {
        if (!lost_daemon(e)) {
          throw;
        }
        last = e.what();
      }
    } while (Signals::sleep_until(std::min(give_up, Clock::now() + k_reconnect_step)) != Wake::stop
             && Clock::now() < give_up);
    if (Signals::stopped()) {
      return std::nullopt;
    }
    throw CliError(k_exit_unreachable, fmt::format("the daemon went away ({}); {}", first, last));
  }

private:
  Reading
  take()
  {
    protocol::ops::StatsRequest request;
    request.all_tenants = m_all_tenants;
    return Reading{protocol::ops::to_reply_header(m_client->call<protocol::ops::Stats>(request)), Clock::now(),
                   output::now_ms()};
  }

  Globals& m_globals;
  bool m_all_tenants;
  std::optional<Client> m_client;
};

double
cost_saved_usd(const Json& stats)
{
  double usd = 0;
  if (!stats.contains("models")) {
    return usd;
  }
  for (const auto& [name, figures] : stats["models"].items()) {
    usd += figures.value("cost_saved_usd", 0.0) + figures.value("provider_cost_saved_usd", 0.0);
  }
  return usd;
}

Json
overall_hit_rate(const Json& totals)
{
  if (counter(totals, "hits") + counter(totals, "misses") == 0) {
    return nullptr;
  }
  return totals.value("hit_rate", 0.0);
}

bool
same_daemon(const Reading& now, const Reading& before)
{
  const auto& a = now.stats["server"];
  const auto& b = before.stats["server"];
  return a.value("pid", 0) == b.value("pid", 0) && a.value("started_ms", 0) == b.value("started_ms", 0);
}

// Without rates for the first sample, and after a restart, which resets some
// counters and not others.
Readings
readings(const Reading& now, const Reading* before)
{
  if (before == nullptr || !same_daemon(now, *before)) {
    return {now.stats, nullptr, 0, 0};
  }
  // Rounded to the microsecond, as the interval is shown, so that rate ×
  // interval gives back the count.
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.at - before->at).count();
  return {now.stats, &before->stats, static_cast<double>(us) / 1e6, now.requests};
}

// One sample: the totals now and the rates since the reading before. The plain
// line and the screen show these same fields.
Json
sample(const Readings& r, std::int64_t wall_ms)
{
  const auto& server = r.now["server"];
  const auto& totals = r.now["totals"];
  const auto requests = protocol::info_of(ServerFigure::requests).name;
  const auto connections = protocol::info_of(ServerFigure::connections).name;
  Json out = {{"time_ms", wall_ms},
              {"interval_ms", nullptr},
              {"version", server.value("version", "")},
              {"pid", server.value("pid", 0)},
              {"uptime_s", server.value("uptime_s", std::int64_t{0})},
              {"tenant", r.now["tenant"]},
              {requests, counter(server, requests)},
              {"ops_per_s", nullptr},
              {"hits", counter(totals, "hits")},
              {"hits_per_s", nullptr},
              {"misses", counter(totals, "misses")},
              {"misses_per_s", nullptr},
              {"hit_rate", nullptr},
              {"hit_rate_overall", overall_hit_rate(totals)},
              {"sets", counter(totals, "sets")},
              {"sets_per_s", nullptr},
              {"entries", counter(totals, "entries")},
              {"raw_bytes", counter(totals, "raw_bytes")},
              {"stored_bytes", counter(totals, "stored_bytes")},
              {"cost_saved_usd", cost_saved_usd(r.now)},
              {connections, counter(server, connections)}};
  if (r.before == nullptr) {
    return out;
  }
  const auto& was = (*r.before)["totals"];
  out["interval_ms"] = r.seconds * 1e3;
  // The watch's own requests are among the daemon's: left out.
  const auto& was_server = (*r.before)["server"];
  out["ops_per_s"] = per_second(counter(server, requests), counter(was_server, requests), r.seconds, r.own);
  out["hits_per_s"] = per_second(counter(totals, "hits"), counter(was, "hits"), r.seconds);
  out["misses_per_s"] = per_second(counter(totals, "misses"), counter(was, "misses"), r.seconds);
  out["sets_per_s"] = per_second(counter(totals, "sets"), counter(was, "sets"), r.seconds);
  out["hit_rate"] = interval_hit_rate(totals, was);
  return out;
}

// Drawn in place with the cursor hidden, on the screen itself rather than
// the alternate screen `top` uses: when the watch ends, by Ctrl-C or after
// its count, the last figures stay in view to be read or copied.
class Screen
{
public:
  // Cleared once; each draw then starts from the top-left corner.
  Screen() { write("\x1b[?25l\x1b[2J"); }
  ~Screen() { write("\x1b[?25h"); }
  Screen(const Screen&) = delete;
  Screen& operator=(const Screen&) = delete;

  // Overwrites line by line rather than clearing first, which would flicker.
  void
  draw(const std::vector<std::string>& lines)
  {
    const auto size = output::terminal_size();
    const auto shown = std::min(lines.size(), static_cast<std::size_t>(std::max(1, size.rows - 1)));
    std::string out = "\x1b[H";
    for (std::size_t i = 0; i < shown; ++i) {
      out += lines[i].substr(0, static_cast<std::size_t>(size.columns)) + "\x1b[K\n";
    }
    out += "\x1b[J";
    write(out);
  }

private:
  static void
  write(const std::string& bytes)
  {
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    std::fflush(stdout);
  }
};

} // namespace

std::uint64_t
counter(const Json& figures, std::string_view name)
{
  return figures.value(std::string(name), std::uint64_t{0});
}

Json
per_second(std::uint64_t now, std::uint64_t before, double seconds, std::uint64_t own)
{
  if (seconds <= 0 || now < before) {
    return nullptr;
  }
  return static_cast<double>(std::max(now - before, own) - own) / seconds;
}

Json
interval_hit_rate(const Json& now, const Json& before)
{
  const auto hits = counter(now, "hits") - counter(before, "hits");
  const auto lookups = hits + counter(now, "misses") - counter(before, "misses");
  if (counter(now, "hits") < counter(before, "hits") || counter(now, "misses") < counter(before, "misses")
      || lookups == 0) {
    return nullptr;
  }
  return static_cast<double>(hits) / static_cast<double>(lookups);
}

void
watch_stats(Globals& globals, const WatchOptions& options)
{
  const bool on_screen = !globals.json && output::stdout_is_terminal();
  Signals signals(on_screen);
  Source source(globals, options.all_tenants);
  std::optional<Screen> screen;
  if (on_screen) {
    screen.emplace();
  } else if (!globals.json) {
    output::print_line(watch_header());
  }
  const auto interval = std::chrono::milliseconds(options.interval_ms);
  std::optional<Reading> before;
  std::optional<Reading> now;
  const auto draw = [&] {
    const auto r = readings(*now, before ? &*before : nullptr);
    screen->draw(watch_screen(sample(r, now->wall_ms), r, options.interval_ms));
  };
  auto next = Clock::now();
  for (std::uint64_t taken = 0; !options.count || taken < *options.count; ++taken) {
    if (taken > 0) {
      Wake wake;
      while ((wake = Signals::sleep_until(next)) == Wake::resize && screen) {
        draw();
      }
      if (wake == Wake::stop) {
        break;
      }
    }
    auto reading = source.read();
    if (!reading || Signals::stopped()) {
      break;
    }
    before = std::move(now);
    now = std::move(reading);
    if (screen) {
      draw();
    } else {
      const auto figures = sample(readings(*now, before ? &*before : nullptr), now->wall_ms);
      output::print_line(globals.json ? figures.dump(-1, ' ', false, Json::error_handler_t::replace)
                                      : watch_line(figures));
      std::fflush(stdout);
    }
    // A steady cadence; after a slow sample (a daemon busy, a laptop
    // suspended) the next one comes an interval later rather than at once.
    next += interval;
    if (next < Clock::now()) {
      next = Clock::now() + interval;
    }
  }
}

} // namespace omnicache::cli
