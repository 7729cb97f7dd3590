// Canonical JSON and the layer keys built from it. Canonical text must parse
// back to the same value and be its own canonical form; raw bytes must be
// refused exactly when they are not UTF-8; a key must not change when its
// input is written differently or gains a delivery parameter.
#include "fuzz/fuzz_check.hpp"
#include "protocol/canonical.hpp"
#include "protocol/error.hpp"

#include <string>

using namespace omnicache::protocol;

namespace {

bool
is_layer_key(const std::string& key, std::string_view layer)
{
  if (key.size() != layer.size() + 1 + 32 || !key.starts_with(layer) || key[layer.size()] != ':') {
    return false;
  }
  return key.find_first_not_of("0123456789abcdef", layer.size() + 1) == std::string::npos;
}

void
check_canonical(const Json& value)
{
  const std::string text = canonical_json(value);
  const Json parsed = Json::parse(text, nullptr, false);
  FUZZ_CHECK(!parsed.is_discarded());
  FUZZ_CHECK(parsed == value);
  FUZZ_CHECK(canonical_json(parsed) == text);
}

// The response key of an object with messages, model and params.
void
check_response_key(const Json& value)
{
  if (!value.is_object() || !value.contains("messages") || !value.contains("model") || !value["model"].is_string()) {
    return;
  }
  const Json& messages = value["messages"];
  const Json params = value.contains("params") ? value["params"] : Json();
  const auto& model = value["model"].get_ref<const std::string&>();
  std::string key;
  try {
    key = response_key(model, messages, params);
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == ErrorCode::bad_request);
    return;
  }
  FUZZ_CHECK(is_layer_key(key, "response"));
  FUZZ_CHECK(response_key(model, Json::parse(canonical_json(messages)), params) == key);
  Json delivered = params.is_object() ? params : Json::object();
  delivered["stream"] = true;
  delivered["user"] = "someone";
  FUZZ_CHECK(response_key(model, messages, delivered) == key);

  const auto question = response_question(messages, params);
  if (question) {
    FUZZ_CHECK(!question->text.empty() && is_layer_key(question->context, "turns"));
    FUZZ_CHECK(response_question(messages, delivered)->context == question->context);
  }
}

// Bytes as they arrive from the command line: a string, a key of an object.
void
check_text(std::string_view bytes)
{
  const bool utf8 = omnicache::fuzz::is_utf8(bytes);
  const std::string text(bytes);
  try {
    check_canonical(Json{{text, Json::array({text, 1.5, -0.0, nullptr})}});
    FUZZ_CHECK(utf8);
  } catch (const Error& e) {
    FUZZ_CHECK(!utf8 && e.code() == ErrorCode::bad_request);
  }
  try {
    const std::string key = embedding_key("model", text);
    FUZZ_CHECK(utf8 && is_layer_key(key, "embedding"));
    FUZZ_CHECK(semantic_key("model", text, "") != semantic_key("model", text, "x"));
  } catch (const Error& e) {
    FUZZ_CHECK(!utf8 && e.code() == ErrorCode::bad_request);
  }
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  omnicache::fuzz::Input input(data, size);
  const std::uint8_t mode = input.byte();
  const std::string_view bytes = input.rest();
  if (mode & 1) {
    check_text(bytes);
    return 0;
  }
  const Json value = Json::parse(bytes, nullptr, false);
  if (value.is_discarded()) {
    return 0;
  }
  check_canonical(value);
  check_response_key(value);
  return 0;
}
