#include "protocol/connection.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace omnicache::protocol;

namespace {

// The daemon's end of a socket pair, speaking frames by hand.
class Peer
{
public:
  explicit Peer(int fd)
    : m_fd(fd)
  {
  }
  ~Peer() { close(m_fd); }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  Request read_request()
  {
    for (;;) {
      if (auto body = m_reader.next()) {
        std::uint64_t id = 0;
        Request request = parse_request(split_body(*body, 1 << 20), id);
        m_values.emplace_back(request.value);
        return request;
      }
      m_reader.compact();
      char* room = m_reader.prepare(4096);
      const ssize_t n = recv(m_fd, room, m_reader.room(), 0);
      REQUIRE(n > 0);
      m_reader.commit(static_cast<std::size_t>(n));
    }
  }

  void write(std::string_view bytes)
  {
    while (!bytes.empty()) {
      const ssize_t n = ::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      REQUIRE(n > 0);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  void reply(std::uint64_t id, Json fields = Json::object(), std::string value = {})
  {
    Reply reply;
    reply.id = id;
    reply.header = std::move(fields);
    reply.value = std::move(value);
    std::string out;
    append_reply(out, reply);
    write(out);
  }

  const std::vector<std::string>& values() const { return m_values; }

private:
  int m_fd;
  FrameReader m_reader;
  std::vector<std::string> m_values;
};

struct Pair
{
  Pair()
  {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    client = fds[0];
    peer = fds[1];
  }
  int client = -1;
  int peer = -1;
};

Json
hello_reply(Json capabilities)
{
  return {{"server", "omnicached"}, {"capabilities", std::move(capabilities)}, {"limits", {{"max_frame_bytes", 1024}}}};
}

} // namespace

TEST_SUITE("protocol.connection")
{
  TEST_CASE("a reply that does not come in time fails the call, naming the time")
  {
    Pair pair;
    Peer peer(pair.peer);
    Connection connection(pair.client, 50);
    connection.send("ping", Json::object());
    try {
      connection.receive();
      FAIL("no timeout");
    } catch (const ConnectionError& e) {
      CHECK(e.code() == ErrorCode::unavailable);
      CHECK(std::string(e.what()) == "the daemon did not answer within 50 ms");
    }
  }

  TEST_CASE("a frame over the limit is refused before any of its body is read")
  {
    Pair pair;
    Peer peer(pair.peer);
    Connection connection(pair.client, 1000, FrameLimits{1024, 256});
    connection.send("get", {{"key", "k"}});
    char prefix[4];
    write_u32be(prefix, 1u << 30);
    peer.write({prefix, sizeof prefix});
    try {
      connection.receive();
      FAIL("no error");
    } catch (const ConnectionError& e) {
      CHECK(e.code() == ErrorCode::too_large);
    }
  }

  TEST_CASE("pipelined requests get their replies in order, ids checked")
  {
    Pair pair;
    Connection connection(pair.client, 2000);
    std::thread daemon([fd = pair.peer] {
      Peer peer(fd);
      std::vector<Request> requests;
      for (int i = 0; i < 3; ++i) {
        requests.push_back(peer.read_request());
      }
      for (const auto& request : requests) {
        peer.reply(request.id, {{"op", request.op}});
      }
      peer.read_request();
      peer.reply(99);
    });
    CHECK(connection.send("ping", Json::object()) == 1);
    CHECK(connection.send("stats", Json::object()) == 2);
    CHECK(connection.send("get", {{"key", "a"}}, "ignored") == 3);
    CHECK(connection.in_flight() == 3);
    for (const char* op : {"ping", "stats", "get"}) {
      const auto reply = connection.receive();
      CHECK(reply.header["op"] == op);
    }
    CHECK(connection.in_flight() == 0);
    connection.send("ping", Json::object());
    CHECK_THROWS_AS(connection.receive(), ConnectionError);
    daemon.join();
  }

  TEST_CASE("a large value is streamed in pieces, and sent without a copy")
  {
    Pair pair;
    std::string value(3 << 20, '\0');
    for (std::size_t i = 0; i < value.size(); ++i) {
      value[i] = static_cast<char>(i * 7 + i / 4096);
    }
    Connection connection(pair.client, 5000);
    std::vector<std::string> received;
    std::thread daemon([fd = pair.peer, &value, &received] {
      Peer peer(fd);
      const auto set = peer.read_request();
      peer.reply(set.id);
      const auto get = peer.read_request();
      peer.reply(get.id, {{"found", true}}, value);
      const auto again = peer.read_request();
      peer.reply(again.id, {{"found", true}}, value);
      const auto last = peer.read_request();
      peer.reply(last.id, {{"found", true}}, "small");
      received = peer.values();
    });
    connection.call("set", {{"key", "big"}}, value);

    connection.send("get", {{"key", "big"}});
    const auto head = connection.receive_head();
    CHECK(head.header["found"] == true);
    CHECK(head.value.empty());
    CHECK(connection.value_left() == value.size());
    std::string streamed;
    std::size_t pieces = 0;
    connection.stream_value([&](std::string_view piece) {
      CHECK(piece.size() <= 64 * 1024);
      streamed.append(piece);
      ++pieces;
    });
    CHECK(streamed == value);
    CHECK(pieces > 1);

    // An unread value is skipped by the next receive; a small one comes whole.
    connection.send("get", {{"key", "big"}});
    connection.receive_head();
    connection.send("get", {{"key", "small"}});
    const auto small = connection.receive();
    CHECK(small.value == "small");
    daemon.join();
    REQUIRE(received.size() == 4);
    CHECK(received[0] == value);
  }

  TEST_CASE("hello goes out with the first request, and a missing capability is named")
  {
    Pair pair;
    Connection connection(pair.client, 2000);
    std::thread daemon([fd = pair.peer] {
      Peer peer(fd);
      const auto hello = peer.read_request();
      CHECK(hello.op == "hello");
      CHECK(hello.header["require"] == Json::array({"kv", "semantic"}));
      const auto ping = peer.read_request();
      CHECK(ping.op == "ping");
      peer.reply(hello.id, hello_reply({"kv", "ttl"}));
      peer.reply(ping.id);
    });
    connection.queue_hello("test", {"kv", "semantic"});
    connection.send("ping", Json::object());
    try {
      connection.receive();
      FAIL("no refusal");
    } catch (const ConnectionError&) {
      FAIL("a refusal is not a broken connection");
    } catch (const ReplyError& e) {
      CHECK(e.code() == ErrorCode::unsupported);
      CHECK(std::string(e.what()).find("'semantic'") != std::string::npos);
    }
    daemon.join();
  }

  TEST_CASE("the hello reply is kept, and an error reply becomes an Error")
  {
    Pair pair;
    Connection connection(pair.client, 2000);
    std::thread daemon([fd = pair.peer] {
      Peer peer(fd);
      const auto hello = peer.read_request();
      peer.reply(hello.id, hello_reply({"kv"}));
      const auto get = peer.read_request();
      std::string out;
      append_reply(out, make_error(get.id, ErrorCode::bad_request, "missing field 'key'"));
      peer.write(out);
    });
    CHECK(!connection.greeted());
    connection.hello("test", {"kv"});
    CHECK(connection.greeted());
    CHECK(connection.server()["limits"]["max_frame_bytes"] == 1024);
    try {
      connection.call("get", Json::object());
      FAIL("no error");
    } catch (const ConnectionError&) {
      FAIL("an error reply is not a broken connection");
    } catch (const ReplyError& e) {
      CHECK(e.code() == ErrorCode::bad_request);
      CHECK(std::string(e.what()) == "missing field 'key'");
    }
    daemon.join();
  }

  TEST_CASE("a closed connection and a request that cannot be sent are told apart")
  {
    Pair pair;
    Connection connection(pair.client, 2000);
    CHECK_THROWS_WITH_AS(connection.send("get", {{"key", "\xff"}}), "keys, tags and other names must be valid UTF-8 text",
                         Error);
    connection.set_request_limit(100);
    CHECK_THROWS_WITH_AS(connection.send("set", {{"key", "k"}}, std::string(100, 'v')),
                         "a request of 133 bytes is over limits.max_frame_bytes (100 bytes)", Error);
    CHECK(connection.in_flight() == 0);
    close(pair.peer);
    try {
      connection.send("ping", Json::object());
      connection.receive();
      FAIL("no error");
    } catch (const ConnectionError& e) {
      CHECK(e.code() == ErrorCode::unavailable);
    }
  }

  TEST_CASE("connect_unix reaches a listener and says why it cannot")
  {
    char dir[] = "/tmp/omnicache-connection-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string path = std::string(dir) + "/s.sock";
    CHECK(connect_unix(path, 100) == -1);
    CHECK(errno == ENOENT);
    const int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(listen(listener, 4) == 0);
    const int fd = connect_unix(path, 100);
    CHECK(fd >= 0);
    close(fd);
    CHECK(connect_unix(std::string(200, 'x'), 100) == -1);
    CHECK(errno == ENAMETOOLONG);
    close(listener);
    unlink(path.c_str());
    rmdir(dir);
  }
}
