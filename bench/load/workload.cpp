#include "bench/load/workload.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>

namespace omnicache::bench {

namespace {

constexpr int k_key_digits = 12;
constexpr int k_group_digits = 6;
constexpr std::string_view k_id_placeholder = "\"id\":100000000000";
// Tag groups: tag j of key i is t<j>:<i mod groups>, so a tag is shared by
// about 100 keys and an invalidation removes about that many.
constexpr std::uint64_t k_keys_per_tag = 100;

std::string
placeholder(int digits)
{
  // Digits that cannot occur elsewhere in a header, so they can be found.
  return std::string(static_cast<std::size_t>(digits), '7');
}

void
put_digits(char* at, std::uint64_t value, int digits)
{
  for (int i = digits - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

std::string
question(std::string_view number, bool stored)
{
  // The stored question and the asked one differ by a word, so a lookup
  // embeds and searches the index rather than taking the exact-key path, and
  // still finds its entry (cosine about 0.97 with the lexical embedder).
  return stored ? fmt::format("how do I configure item {} in the bench cache", number)
                : fmt::format("how do I configure the item {} in the bench cache", number);
}

std::vector<std::size_t>
find_all(const std::string& frame, std::size_t end, const std::string& wanted)
{
  std::vector<std::size_t> found;
  for (std::size_t at = frame.find(wanted); at < end; at = frame.find(wanted, at + wanted.size())) {
    found.push_back(at);
  }
  return found;
}

} // namespace

Workload::Template
Workload::make(std::string_view op, const protocol::Json& fields, std::string_view value, int number_digits)
{
  Template result;
  protocol::append_request(result.frame, k_id_base, op, fields, value);
  // Only the header is searched: the value may hold anything.
  const std::size_t header_end = result.frame.size() - value.size();
  result.id_at = result.frame.find(k_id_placeholder) + k_id_placeholder.size() - (k_key_digits - 1);
  result.number_at = find_all(result.frame, header_end, placeholder(number_digits));
  if (op == "set") {
    // The group placeholder is shorter than the key's: skip what lies in the key.
    for (const std::size_t at : find_all(result.frame, header_end, placeholder(k_group_digits))) {
      const bool in_key = std::any_of(result.number_at.begin(), result.number_at.end(), [at](std::size_t key_at) {
        return at >= key_at && at < key_at + k_key_digits;
      });
      if (!in_key) {
        result.group_at.push_back(at);
      }
    }
  }
  return result;
}

Workload::Workload(const Options& options)
{
  using protocol::Json;
  const std::string value(options.value_size, 'x');
  const std::string key_digits = placeholder(k_key_digits);
  const std::string group_digits = placeholder(k_group_digits);
  const std::uint64_t groups = std::max<std::uint64_t>(1, options.keyspace / k_keys_per_tag);

  Json tags = Json::array();
  for (unsigned j = 0; j < options.tags; ++j) {
    tags.push_back(fmt::format("t{}:{}", j, group_digits));
  }
  auto set_fields = Json{{"key", "key:" + key_digits}};
  if (!tags.empty()) {
    set_fields["tags"] = tags;
  }
  const auto at = [](Request r) { return static_cast<std::size_t>(r); };
  m_templates[at(Request::set)] = make("set", set_fields, value, k_key_digits);
  m_templates[at(Request::get)] = make("get", Json{{"key", "key:" + key_digits}}, {}, k_key_digits);
  m_templates[at(Request::miss)] = make("get", Json{{"key", "miss:" + key_digits}}, {}, k_key_digits);
  m_templates[at(Request::invalidate)] =
    make("invalidate", Json{{"tags", Json::array({"t0:" + group_digits})}}, {}, k_group_digits);
  m_templates[at(Request::semantic)] =
    make("semantic_get", Json{{"model", "bench"}, {"text", question(key_digits, false)}}, {}, k_key_digits);
  m_templates[at(Request::semantic_set)] =
    make("semantic_set", Json{{"model", "bench"}, {"text", question(key_digits, true)}}, value, k_key_digits);

  m_digits.fill(k_key_digits);
  m_digits[at(Request::invalidate)] = k_group_digits;
  m_numbers.fill(options.keyspace);
  m_numbers[at(Request::invalidate)] = groups;
  m_numbers[at(Request::semantic)] = options.semantic_keys;
  m_numbers[at(Request::semantic_set)] = options.semantic_keys;
  m_groups = groups;
}

void
Workload::append(Request request, std::uint64_t number, std::uint64_t id, std::string& out) const
{
  const Template& t = m_templates[static_cast<std::size_t>(request)];
  const std::size_t base = out.size();
  out.append(t.frame);
  char* frame = out.data() + base;
  put_digits(frame + t.id_at, id, k_key_digits - 1);
  const int digits = m_digits[static_cast<std::size_t>(request)];
  for (const std::size_t field : t.number_at) {
    put_digits(frame + field, number, digits);
  }
  for (const std::size_t field : t.group_at) {
    put_digits(frame + field, number % m_groups, k_group_digits);
  }
}

std::uint64_t
Workload::numbers(Request request) const
{
  return m_numbers[static_cast<std::size_t>(request)];
}

ReplyInfo
read_reply(std::string_view header)
{
  ReplyInfo info;
  constexpr std::string_view id_member = "\"id\":";
  const std::size_t id_at = header.find(id_member);
  if (id_at != std::string_view::npos) {
    const char* first = header.data() + id_at + id_member.size();
    std::from_chars(first, header.data() + header.size(), info.id);
  }
  info.ok = header.find("\"ok\":true") != std::string_view::npos;
  if (info.ok) {
    info.found = header.find("\"found\":true") != std::string_view::npos;
    return info;
  }
  // An error: rare, so the full parse is affordable.
  try {
    const auto reply = protocol::parse_reply(protocol::BodyView{header, {}});
    info.code = reply.error_code;
  } catch (const protocol::Error&) {
    info.code = protocol::ErrorCode::bad_frame;
  }
  return info;
}

} // namespace omnicache::bench
