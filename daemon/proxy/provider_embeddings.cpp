// The embeddings API: requests keyed per input text, vectors read from
// float arrays or base64, answers written back in the encoding asked for.
#include "daemon/proxy/provider.hpp"
#include "daemon/proxy/provider_json.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <iterator>

namespace omnicache::daemon::proxy {

using protocol::Json;
using namespace json_read;

namespace {

// Doubles from here on round to infinity as a float32.
constexpr double k_float_limit = 0x1.ffffffp127;

void
append_float(std::string& bytes, float value)
{
  const auto bits = std::bit_cast<std::uint32_t>(value);
  for (int shift = 0; shift < 32; shift += 8) {
    bytes += static_cast<char>((bits >> shift) & 0xffU);
  }
}

float
float_at(std::string_view bytes, std::size_t offset)
{
  std::uint32_t bits = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    bits |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return std::bit_cast<float>(bits);
}

std::string
encode_base64(std::string_view bytes)
{
  std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  text.resize(static_cast<std::size_t>(n));
  return text;
}

std::optional<std::string>
decode_base64(std::string_view text)
{
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string bytes(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts the padding as zero bytes.
  const auto padding = text.size() - std::min(text.size(), text.find_last_not_of('=') + 1);
  if (padding > 2) {
    return std::nullopt;
  }
  bytes.resize(static_cast<std::size_t>(n) - padding);
  return bytes;
}

// float32 little-endian bytes of one data[].embedding: an array of numbers or base64 of the bytes.
std::optional<std::string>
vector_bytes(const Json* embedding)
{
  std::optional<std::string> bytes;
  if (embedding != nullptr && embedding->is_string()) {
    bytes = decode_base64(embedding->get_ref<const std::string&>());
  } else if (embedding != nullptr && embedding->is_array()) {
    bytes.emplace();
    for (const auto& number : *embedding) {
      if (!number.is_number()) {
        return std::nullopt;
      }
      const auto value = number.get<double>();
      if (!(std::abs(value) < k_float_limit)) {
        return std::nullopt;
      }
      append_float(*bytes, static_cast<float>(value));
    }
  }
  if (!bytes || bytes->empty() || bytes->size() % 4 != 0) {
    return std::nullopt;
  }
  for (std::size_t offset = 0; offset < bytes->size(); offset += 4) {
    if (!std::isfinite(float_at(*bytes, offset))) {
      return std::nullopt;
    }
  }
  return bytes;
}

} // namespace

std::optional<EmbeddingsRequest>
parse_embeddings_request(std::string_view body)
{
  static constexpr std::array<std::string_view, 5> k_fields = {"model", "input", "encoding_format", "dimensions",
                                                                "user"};
  auto parsed = parse_json(body);
  if (!parsed || !parsed->is_object()) {
    return std::nullopt;
  }
  for (const auto& item : parsed->items()) {
    if (std::find(k_fields.begin(), k_fields.end(), item.key()) == k_fields.end()) {
      return std::nullopt;
    }
  }
  const Json* model = member(*parsed, "model");
  const Json* input = member(*parsed, "input");
  if (model == nullptr || !model->is_string() || model->get_ref<const std::string&>().empty() || input == nullptr) {
    return std::nullopt;
  }
  EmbeddingsRequest request;
  request.model = model->get<std::string>();
  if (input->is_string()) {
    request.inputs.push_back(input->get<std::string>());
  } else if (input->is_array() && !input->empty()) {
    for (const auto& text : *input) {
      if (!text.is_string()) {
        return std::nullopt; // token arrays are keyed by text only
      }
      request.inputs.push_back(text.get<std::string>());
    }
  } else {
    return std::nullopt;
  }
  const Json* format = member(*parsed, "encoding_format");
  if (format != nullptr && !format->is_null() && *format != "float") {
    if (*format != "base64") {
      return std::nullopt;
    }
    request.base64 = true;
  }
  request.key_model = request.model;
  const Json* dimensions = member(*parsed, "dimensions");
  if (dimensions != nullptr && !dimensions->is_null()) {
    const auto n = count(*parsed, "dimensions");
    if (!n || *n == 0) {
      return std::nullopt;
    }
    request.key_model += fmt::format("@dimensions={}", *n);
  }
  request.body = std::move(*parsed);
  return request;
}

std::string
embeddings_body(const EmbeddingsRequest& request, const std::vector<std::string>& inputs)
{
  Json body = request.body;
  body["input"] = inputs;
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<std::vector<std::string>>
embedding_vectors(std::string_view response, std::size_t expected)
{
  const auto parsed = parse_json(response);
  const Json* data = parsed ? member(*parsed, "data") : nullptr;
  if (data == nullptr || !data->is_array() || data->size() != expected) {
    return std::nullopt;
  }
  std::vector<std::string> vectors(expected);
  for (std::size_t position = 0; position < data->size(); ++position) {
    const Json& item = (*data)[position];
    const auto index = member(item, "index") != nullptr ? count(item, "index") : position;
    auto bytes = vector_bytes(member(item, "embedding"));
    if (!index || *index >= expected || !vectors[*index].empty() || !bytes) {
      return std::nullopt;
    }
    vectors[*index] = std::move(*bytes);
  }
  return vectors;
}

std::string
embeddings_response(const EmbeddingsRequest& request, const std::vector<std::string>& vectors, const Json& usage)
{
  // Written by hand: each float in the shortest form that reads back as the same float32.
  std::string out = R"({"object":"list","data":[)";
  auto sink = std::back_inserter(out);
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    fmt::format_to(sink, R"({}{{"object":"embedding","index":{},"embedding":)", i == 0 ? "" : ",", i);
    if (request.base64) {
      fmt::format_to(sink, "\"{}\"}}", encode_base64(vectors[i]));
      continue;
    }
    out += '[';
    for (std::size_t offset = 0; offset + 4 <= vectors[i].size(); offset += 4) {
      const float value = float_at(vectors[i], offset);
      out += offset == 0 ? "" : ",";
      if (value == 0 && std::signbit(value)) {
        out += "-0.0"; // "-0" would read back as the integer 0
      } else {
        fmt::format_to(sink, "{}", value);
      }
    }
    out += "]}";
  }
  const auto prompt = count(usage, "prompt_tokens").value_or(0);
  fmt::format_to(sink, R"(],"model":{},"usage":{{"prompt_tokens":{},"total_tokens":{}}}}})", Json(request.model).dump(),
                 prompt, count(usage, "total_tokens").value_or(prompt));
  return out;
}

} // namespace omnicache::daemon::proxy
