// semantic_set and semantic_get: answers found by meaning. An entry keeps the
// text it answers and that text's embedding; a lookup tries the exact key
// first, then the nearest neighbours in the same tenant and scope, each
// checked against the database (alive, same scope and context), against the
// threshold, and against the guard that refuses look-alike questions.
#include "daemon/handlers/handler.hpp"
#include "protocol/canonical.hpp"
#include "store/semantic/guard.hpp"

#include <fmt/core.h>

#include <cmath>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

namespace {

// Neighbours examined per lookup: what bench/semantic_quality measured the
// threshold and guard with (a wider net gives a false hit more chances).
// A label whose entry is gone is dropped from the index when met, so it
// costs a slot once.
constexpr std::size_t k_candidates = 3;

// Similarities and thresholds are compared at this resolution, so that a
// threshold written with six decimals means what it says despite float
// rounding in the dot product.
constexpr double k_resolution = 1e6;

bool
reaches(double similarity, double threshold)
{
  return std::llround(similarity * k_resolution) >= std::llround(threshold * k_resolution);
}

struct Question
{
  std::string model;
  std::string text;
  std::string context;
  std::string embedder;
  std::vector<float> vector;
  std::string scope;
  std::string key;
};

std::vector<float>
client_vector(const Json& field)
{
  if (!field.is_array() || field.empty() || field.size() > 65536) {
    throw Error(ErrorCode::bad_request, "field 'vector' must be a non-empty array of at most 65536 numbers");
  }
  std::vector<float> vector;
  vector.reserve(field.size());
  double norm = 0;
  for (const auto& item : field) {
    if (!item.is_number()) {
      throw Error(ErrorCode::bad_request, "field 'vector' must hold numbers only");
    }
    const auto value = item.get<double>();
    norm += value * value;
    vector.push_back(static_cast<float>(value));
  }
  if (!std::isfinite(norm) || norm == 0) {
    throw Error(ErrorCode::bad_request, "field 'vector' must be finite and not all zeros");
  }
  const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (auto& x : vector) {
    x *= scale;
  }
  return vector;
}

Question
question_of(Context& context, const Json& header)
{
  Question q;
  q.model = protocol::required_string(header, "model");
  q.text = protocol::required_string(header, "text");
  q.context = protocol::optional_string(header, "context").value_or("");
  if (q.model.empty() || q.text.empty()) {
    throw Error(ErrorCode::bad_request, "fields 'model' and 'text' must not be empty");
  }
  if (const auto vector = header.find("vector"); vector != header.end() && !vector->is_null()) {
    q.vector = client_vector(*vector);
    q.embedder = fmt::format("client/d{}", q.vector.size());
  } else {
    const auto& embedder = context.shared.embedder;
    q.vector = embedder.embed(q.text);
    q.embedder = embedder.version();
  }
  q.scope = protocol::canonical_json(Json::array({"semantic", q.model, q.embedder}));
  q.key = protocol::semantic_key(q.model, q.text, q.context);
  return q;
}

double
threshold_of(const Json& header, const protocol::Settings& settings)
{
  const auto it = header.find("threshold");
  if (it == header.end() || it->is_null()) {
    return settings.semantic_threshold;
  }
  if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 1) {
    throw Error(ErrorCode::bad_request, "field 'threshold' must be a number from 0 to 1");
  }
  return it->get<double>();
}

} // namespace

void
handle_semantic_set(Context& context, const protocol::Request& request, Completion done)
{
  const std::string tenant = tenant_of(request);
  auto question = question_of(context, request.header);
  Json fields = request.header;
  fields["key"] = question.key;
  fields["layer"] = "semantic";
  store::EntryWrite entry = entry_of(fields, context.settings, tenant);
  entry.value.assign(request.value);
  entry.vector = store::VectorWrite{question.scope, question.context, question.text, question.vector};
  const std::int64_t ttl_ms = entry.ttl_ms;
  auto id = std::make_shared<std::int64_t>(0);
  submit_write(
    context, request,
    [entry = std::move(entry), id](store::Writer& writer) {
      const bool replaced = writer.set(entry, store::now_ms());
      *id = writer.last_id();
      return Json{{"replaced", replaced}};
    },
    [done = std::move(done), ttl_ms, id, &index = context.shared.index, tenant, q = std::move(question)](
      protocol::Reply reply) {
      if (reply.ok) {
        index.add(tenant, q.scope, *id, q.vector);
        reply.header["ttl_ms"] = ttl_ms == 0 ? Json(nullptr) : Json(ttl_ms);
        reply.header["key"] = q.key;
        reply.header["embedder"] = q.embedder;
      }
      done(std::move(reply));
    });
}

protocol::Reply
handle_semantic_get(Context& context, const protocol::Request& request)
{
  const std::string tenant = tenant_of(request);
  const auto question = question_of(context, request.header);
  const double threshold = threshold_of(request.header, context.settings);
  const bool guard =
    protocol::optional_bool(request.header, "guard", context.settings.semantic_guard == "on");
  const std::int64_t now = store::now_ms();

  // The exact question first: no embedding comparison can beat it.
  if (context.reader.exists(tenant, question.key, now)) {
    if (auto hit = context.reader.get(tenant, question.key, "semantic", now)) {
      auto reply = hit_reply(context, request, tenant, std::move(*hit));
      reply.header.update({{"match", "exact"}, {"similarity", 1.0}, {"key", question.key}});
      return reply;
    }
  }

  auto& index = context.shared.index;
  Json rejected = Json::array();
  for (const auto& candidate : index.search(tenant, question.scope, question.vector, k_candidates)) {
    auto row = context.reader.vector_of(candidate.id);
    if (!row || row->tenant != tenant || row->scope != question.scope) {
      index.remove(tenant, question.scope, candidate.id); // its entry is gone
      continue;
    }
    if (row->context != question.context || (row->expires_ms != 0 && row->expires_ms <= now)) {
      continue;
    }
    // The stored vector, not the index's copy, decides.
    double similarity = 0;
    for (std::size_t i = 0; i < row->vector.size() && i < question.vector.size(); ++i) {
      similarity += static_cast<double>(row->vector[i]) * question.vector[i];
    }
    if (!reaches(similarity, threshold)) {
      continue;
    }
    if (guard) {
      const auto verdict = store::semantic::check_guard(question.text, row->text);
      if (!verdict.accept) {
        ++context.shared.metrics.guard_rejections;
        rejected.push_back({{"key", row->key}, {"similarity", similarity}, {"reason", verdict.reason}});
        continue;
      }
    }
    if (auto hit = context.reader.get(tenant, row->key, "semantic", now)) {
      auto reply = hit_reply(context, request, tenant, std::move(*hit));
      reply.header.update({{"match", "semantic"}, {"similarity", similarity}, {"key", row->key}});
      if (!rejected.empty()) {
        reply.header["rejected"] = std::move(rejected);
      }
      return reply;
    }
  }
  context.shared.store.stats().count(tenant, "semantic", store::Counter::misses);
  Json fields{{"found", false}, {"key", question.key}};
  if (!rejected.empty()) {
    fields["rejected"] = std::move(rejected);
  }
  return ok_reply(request, std::move(fields));
}

} // namespace omnicache::daemon
