#pragma once

#include "daemon/handlers/handler.hpp"
#include "protocol/frame.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace omnicache::daemon {

class Session;

// One serving thread: its event loop, its read connection to the database,
// and the settings it currently applies. Touched only from its own thread.
struct Worker
{
  boost::asio::io_context io{1};
  std::unique_ptr<store::Reader> reader;
  std::shared_ptr<const protocol::Config> config;
  std::vector<std::weak_ptr<Session>> sessions;
};

// One client connection. Requests are taken in order; replies go back in the
// same order. A read waits for every earlier request of its connection, so a
// client always reads its own writes; consecutive writes are queued to the
// writer together, so a pipelining client gets group commits.
class Session : public std::enable_shared_from_this<Session>
{
public:
  using Socket = boost::asio::local::stream_protocol::socket;

  Session(Socket socket, Worker& worker, Shared& shared);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start();
  // The server is stopping: take no new requests, answer those in flight, close.
  void drain();

private:
  struct Slot
  {
    enum class State { waiting, running, done };
    const OpSpec* op = nullptr;
    protocol::Request request;
    std::string owned_value;
    State state = State::waiting;
    protocol::Reply reply;
    std::chrono::steady_clock::time_point started;
  };

  Slot& slot(std::uint64_t seq) { return m_slots[seq - m_first_seq]; }
  std::uint64_t end_seq() const { return m_first_seq + m_slots.size(); }

  void advance();
  void take_frames();
  void add_request(std::string_view body);
  void add_error(std::uint64_t id, protocol::ErrorCode code, std::string message);
  void pump();
  bool can_start(const Slot& slot) const;
  void start(std::uint64_t seq);
  void finish(std::uint64_t seq, protocol::Reply reply);
  void flush();
  void queue_reply(protocol::Reply& reply);
  void read_more();
  void close_when_done();
  void close();
  const protocol::Settings& settings() const { return m_worker.config->settings(); }

  Socket m_socket;
  std::shared_ptr<Connection> m_connection;
  Worker& m_worker;
  Shared& m_shared;
  protocol::FrameReader m_frames;
  std::deque<Slot> m_slots;
  std::uint64_t m_first_seq = 0;  // seq of m_slots.front()
  std::uint64_t m_next_start = 0; // first slot not yet started
  std::size_t m_running = 0;
  std::size_t m_running_reads = 0; // running slots that are not writes
  // Replies ready to send, then being written: small ones share a piece;
  // a large value is a piece of its own, moved in rather than copied.
  std::vector<std::string> m_out;
  std::vector<std::string> m_sending;
  std::size_t m_out_bytes = 0;
  std::size_t m_sending_bytes = 0;
  bool m_out_tail_is_value = false;
  bool m_reading = false;
  bool m_writing = false;
  bool m_eof = false;     // the client will send no more
  bool m_closing = false; // a fatal framing error: answer what came before, then close
  bool m_closed = false;
};

} // namespace omnicache::daemon
