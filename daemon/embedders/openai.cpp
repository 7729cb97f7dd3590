#include "daemon/embedders/openai.hpp"

#include "daemon/log.hpp"
#include "protocol/error.hpp"
#include "protocol/message.hpp"

#include <boost/asio/post.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

namespace omnicache::daemon {

using protocol::Json;

namespace {

// What is wrong with an endpoint's answer: the endpoint is of no use until
// it answers well again.
protocol::Error
answer_error(const std::string& message)
{
  return protocol::Error(protocol::ErrorCode::unavailable, message);
}

// How long the first text waits for others to share its request.
constexpr auto k_gather = std::chrono::milliseconds(1);
// An endpoint that stays down is logged at most this often.
constexpr auto k_warning_interval = std::chrono::seconds(10);
constexpr std::size_t k_max_message = 200;

// Printable, on one line, and short: it goes into replies and the log.
std::string
shortened(std::string_view text)
{
  std::string out;
  for (const char c : text) {
    if (out.size() >= k_max_message) {
      out += "...";
      break;
    }
    const bool space = c == ' ' || c == '\n' || c == '\r' || c == '\t';
    if (space) {
      if (!out.empty() && out.back() != ' ') {
        out += ' ';
      }
    } else {
      out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
    }
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

std::vector<float>
vector_of(const Json& item, std::size_t position, std::uint64_t dimensions)
{
  const auto embedding = item.find("embedding");
  if (embedding == item.end() || !embedding->is_array() || embedding->empty()) {
    const bool base64 = embedding != item.end() && embedding->is_string();
    throw answer_error(fmt::format("data[{}].embedding is not a non-empty array of numbers{}", position,
                                   base64 ? " (base64 answers are not supported)" : ""));
  }
  if (dimensions != 0 && embedding->size() != dimensions) {
    throw answer_error(fmt::format("the answer has {} dimensions, not the {} asked for "
                                   "(semantic.openai_dimensions)",
                                   embedding->size(), dimensions));
  }
  std::vector<float> vector;
  vector.reserve(embedding->size());
  double norm = 0;
  for (const auto& number : *embedding) {
    if (!number.is_number()) {
      throw answer_error(fmt::format("data[{}].embedding holds a {}, not a number", position,
                                     number.type_name()));
    }
    const auto value = number.get<double>();
    norm += value * value;
    vector.push_back(static_cast<float>(value));
  }
  if (!std::isfinite(norm) || norm == 0) {
    throw answer_error(fmt::format("data[{}].embedding is all zeros or not finite", position));
  }
  const auto scale = 1.0 / std::sqrt(norm);
  for (auto& x : vector) {
    x = static_cast<float>(x * scale);
  }
  return vector;
}

} // namespace

struct OpenAiEmbedder::Call
{
  std::vector<std::vector<float>> vectors;
  std::size_t remaining = 0;
  std::string error;
  Done done;
};

std::string
embeddings_request(const OpenAiOptions& options, const std::vector<std::string>& texts)
{
  Json body{{"model", options.model}, {"input", texts}};
  if (options.dimensions != 0) {
    body["dimensions"] = options.dimensions;
  }
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::vector<std::vector<float>>
parse_embeddings(std::string_view body, std::size_t count, std::uint64_t dimensions)
{
  const Json answer = Json::parse(body, nullptr, false);
  if (answer.is_discarded()) {
    throw answer_error(fmt::format("the answer is not JSON: {}", shortened(body)));
  }
  const auto data = answer.is_object() ? answer.find("data") : answer.end();
  if (!answer.is_object() || data == answer.end() || !data->is_array()) {
    throw answer_error(fmt::format("the answer has no \"data\" array: {}", shortened(body)));
  }
  if (data->size() != count) {
    throw answer_error(fmt::format("the answer holds {} vectors for {} texts", data->size(), count));
  }
  std::vector<std::vector<float>> vectors(count);
  std::size_t length = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const auto& item = (*data)[i];
    if (!item.is_object()) {
      throw answer_error(fmt::format("data[{}] is not an object", i));
    }
    std::size_t index = i;
    if (const auto it = item.find("index"); it != item.end()) {
      if (!it->is_number_unsigned() || it->get<std::uint64_t>() >= count) {
        throw answer_error(fmt::format("data[{}].index is not a text's position (0 to {})", i, count - 1));
      }
      index = it->get<std::size_t>();
    }
    if (!vectors[index].empty()) {
      throw answer_error(fmt::format("two vectors have the index {}", index));
    }
    vectors[index] = vector_of(item, i, dimensions);
    if (length != 0 && vectors[index].size() != length) {
      throw answer_error(fmt::format("the vectors differ in length ({} and {})", length,
                                     vectors[index].size()));
    }
    length = vectors[index].size();
  }
  return vectors;
}

std::string
http_error_summary(const http::Response& response)
{
  std::string message;
  const Json body = Json::parse(response.body, nullptr, false);
  if (body.is_object()) {
    const auto error = body.find("error");
    if (error != body.end() && error->is_string()) {
      message = error->get<std::string>(); // Ollama, llama.cpp
    } else if (error != body.end() && error->is_object() && error->contains("message")
               && (*error)["message"].is_string()) {
      message = (*error)["message"].get<std::string>(); // OpenAI, vLLM
    } else if (body.contains("message") && body["message"].is_string()) {
      message = body["message"].get<std::string>();
    }
  }
  if (message.empty()) {
    message = response.body;
  }
  message = shortened(message);
  const auto status = fmt::format("HTTP {}{}{}", response.status, response.reason.empty() ? "" : " ",
                                  shortened(response.reason));
  return message.empty() ? status : fmt::format("{}: {}", status, message);
}

OpenAiEmbedder::OpenAiEmbedder(OpenAiOptions options)
  : m_options(std::move(options)),
    m_url(http::parse_url(m_options.url)),
    m_endpoint(m_url.text + "/embeddings"),
    m_work(boost::asio::make_work_guard(m_io)),
    m_client(m_io, m_url),
    m_gather(m_io)
{
  const auto suffix = m_options.dimensions == 0 ? std::string() : fmt::format("/d{}", m_options.dimensions);
  m_version = fmt::format("openai/{}{}", m_options.model, suffix);
  m_cache_model = m_options.model + suffix;
  if (!m_options.api_key.empty()) {
    m_headers.emplace_back("Authorization", "Bearer " + m_options.api_key);
  }
  m_options.batch = std::max<std::size_t>(m_options.batch, 1);
  m_dimensions = m_options.dimensions;
  m_thread = std::thread([this] {
    for (;;) {
      try {
        m_io.run();
        return;
      } catch (const std::exception& e) {
        log::error("embeddings endpoint {}: {}", m_endpoint, e.what());
      }
    }
  });
}

OpenAiEmbedder::~OpenAiEmbedder()
{
  boost::asio::post(m_io, [this] { stop(); });
  m_thread.join();
}

void
OpenAiEmbedder::embed(std::vector<std::string> texts, Done done)
{
  auto call = std::make_shared<Call>();
  call->vectors.resize(texts.size());
  call->remaining = texts.size();
  call->done = std::move(done);
  if (texts.empty()) {
    call->done(Embeddings{});
    return;
  }
  boost::asio::post(m_io, [this, call, texts = std::move(texts)] {
    for (std::size_t i = 0; i < texts.size(); ++i) {
      auto [it, fresh] = m_waiting.try_emplace(texts[i]);
      it->second.push_back(Waiter{call, i});
      if (fresh) {
        m_queue.push_back(texts[i]);
      }
    }
    schedule();
  });
}

void
OpenAiEmbedder::schedule()
{
  if (m_in_flight || m_gathering) {
    return; // answered() sends what queued meanwhile
  }
  m_gathering = true;
  m_gather.expires_after(k_gather);
  m_gather.async_wait([this](const boost::system::error_code& ec) {
    m_gathering = false;
    if (!ec) {
      send_batch();
    }
  });
}

void
OpenAiEmbedder::send_batch()
{
  if (m_in_flight || m_stopped || m_queue.empty()) {
    return;
  }
  const auto n = std::min(m_options.batch, m_queue.size());
  std::vector<std::string> texts(std::make_move_iterator(m_queue.begin()),
                                 std::make_move_iterator(m_queue.begin() + static_cast<std::ptrdiff_t>(n)));
  m_queue.erase(m_queue.begin(), m_queue.begin() + static_cast<std::ptrdiff_t>(n));
  m_in_flight = true;
  auto body = embeddings_request(m_options, texts);
  m_client.post(m_url.path + "/embeddings", m_headers, std::move(body), m_options.timeout,
                [this, texts = std::move(texts)](http::Result result) { answered(texts, std::move(result)); });
}

void
OpenAiEmbedder::answered(const std::vector<std::string>& texts, http::Result result)
{
  m_in_flight = false;
  std::string error = std::move(result.error);
  std::vector<std::vector<float>> vectors;
  if (error.empty() && (result.response.status < 200 || result.response.status > 299)) {
    error = http_error_summary(result.response);
  }
  if (error.empty()) {
    try {
      vectors = parse_embeddings(result.response.body, texts.size(), m_options.dimensions);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (error.empty()) {
    note_success();
    m_dimensions = vectors.front().size();
    for (std::size_t i = 0; i < texts.size(); ++i) {
      settle(texts[i], &vectors[i], error);
    }
  } else {
    error = fmt::format("embeddings endpoint {}: {}", m_endpoint, error);
    note_failure(error);
    for (const auto& text : texts) {
      settle(text, nullptr, error);
    }
  }
  send_batch();
}

// Gives `text`'s vector, or the error, to every call waiting for it, and
// completes the calls that have all their texts.
void
OpenAiEmbedder::settle(const std::string& text, const std::vector<float>* vector, const std::string& error)
{
  const auto it = m_waiting.find(text);
  if (it == m_waiting.end()) {
    return;
  }
  const auto waiters = std::move(it->second);
  m_waiting.erase(it);
  for (const auto& waiter : waiters) {
    auto& call = *waiter.call;
    if (vector != nullptr) {
      call.vectors[waiter.index] = *vector;
    } else if (call.error.empty()) {
      call.error = error;
    }
    if (--call.remaining > 0) {
      continue;
    }
    Embeddings out;
    if (call.error.empty()) {
      out.vectors = std::move(call.vectors);
    } else {
      out.error = std::move(call.error);
    }
    auto done = std::move(call.done);
    done(std::move(out));
  }
}

void
OpenAiEmbedder::note_failure(const std::string& error)
{
  const auto now = std::chrono::steady_clock::now();
  if (m_failing && now - m_last_warning < k_warning_interval) {
    ++m_unreported;
    return;
  }
  const auto more = m_unreported == 0 ? std::string()
                                      : fmt::format(" ({} more failures since the last warning)", m_unreported);
  log::warn("{}{}; semantic lookups fall back to exact match", error, more);
  m_failing = true;
  m_unreported = 0;
  m_last_warning = now;
}

void
OpenAiEmbedder::note_success()
{
  if (m_failing) {
    log::info("embeddings endpoint {} answers again{}", m_endpoint,
              m_unreported == 0 ? std::string() : fmt::format(" ({} failures not logged)", m_unreported));
  }
  m_failing = false;
  m_unreported = 0;
}

void
OpenAiEmbedder::stop()
{
  m_stopped = true;
  m_gather.cancel();
  m_client.close();
  m_queue.clear();
  std::vector<std::string> texts;
  for (const auto& [text, waiters] : m_waiting) {
    texts.push_back(text);
  }
  for (const auto& text : texts) {
    settle(text, nullptr, fmt::format("embeddings endpoint {}: the daemon is stopping", m_endpoint));
  }
  m_work.reset();
  m_io.stop(); // an exchange in flight is dropped, not finished
}

} // namespace omnicache::daemon
