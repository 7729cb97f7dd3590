#pragma once

#include "daemon/embedder.hpp"
#include "daemon/net/http.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

// The `openai` embedder: any OpenAI-compatible /v1/embeddings endpoint
// (OpenAI, Ollama, llama.cpp server, vLLM, TEI). It runs on a thread of its
// own, so a slow endpoint holds up no serving thread. Texts asked for while
// a request is in flight are gathered into the next one, and a text asked
// for twice before its answer is sent once.
namespace omnicache::daemon {

struct OpenAiOptions
{
  std::string url;     // base URL, such as http://127.0.0.1:11434/v1; POSTs go to URL/embeddings
  std::string model;
  std::string api_key; // empty: no Authorization header
  std::chrono::milliseconds timeout{10000};
  std::size_t batch = 64;
  std::uint64_t dimensions = 0; // 0: the model's own
};

// The body of a request for `texts`.
std::string embeddings_request(const OpenAiOptions& options, const std::vector<std::string>& texts);

// The vectors of an answer for `count` texts, in the order of the texts
// (data[i].index), each L2-normalised. Throws protocol::Error (unavailable)
// saying what is wrong with the answer.
std::vector<std::vector<float>> parse_embeddings(std::string_view body, std::size_t count, std::uint64_t dimensions);

// "HTTP 500 Internal Server Error: <the error message of the body, shortened>".
std::string http_error_summary(const http::Response& response);

class OpenAiEmbedder final : public Embedder
{
public:
  // Throws protocol::Error (bad_request) for a URL it cannot use.
  explicit OpenAiEmbedder(OpenAiOptions options);
  // Stops the thread; calls still waiting get an error.
  ~OpenAiEmbedder() override;
  OpenAiEmbedder(const OpenAiEmbedder&) = delete;
  OpenAiEmbedder& operator=(const OpenAiEmbedder&) = delete;

  const std::string& version() const override { return m_version; }
  const std::string& model() const override { return m_cache_model; }
  bool local() const override { return false; }
  std::size_t dimensions() const override { return m_dimensions.load(); }
  void embed(std::vector<std::string> texts, Done done) override;

  // The URL requests go to, for messages.
  const std::string& endpoint() const { return m_endpoint; }

private:
  struct Call;
  struct Waiter
  {
    std::shared_ptr<Call> call;
    std::size_t index = 0;
  };

  void schedule();
  void send_batch();
  void answered(const std::vector<std::string>& texts, http::Result result);
  void settle(const std::string& text, const std::vector<float>* vector, const std::string& error);
  void note_failure(const std::string& error);
  void note_success();
  void stop();

  OpenAiOptions m_options;
  http::Url m_url;
  std::string m_endpoint;
  std::string m_version;
  std::string m_cache_model;
  http::Headers m_headers;
  boost::asio::io_context m_io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> m_work;
  http::Client m_client;
  boost::asio::steady_timer m_gather;

  // Touched on m_io's thread only.
  std::deque<std::string> m_queue;                                // texts not sent yet
  std::unordered_map<std::string, std::vector<Waiter>> m_waiting; // by text: queued or in flight
  bool m_in_flight = false;
  bool m_gathering = false;
  bool m_stopped = false;
  bool m_failing = false;
  std::uint64_t m_unreported = 0; // failures not logged since the last warning
  std::chrono::steady_clock::time_point m_last_warning;

  std::atomic<std::size_t> m_dimensions{0}; // configured, or of the last answer
  std::thread m_thread; // last: started once everything above exists
};

} // namespace omnicache::daemon
