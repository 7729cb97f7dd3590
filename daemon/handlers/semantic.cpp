// semantic_set, semantic_get and semantic_reject: answers found by meaning.
// An entry keeps the text it answers and that text's embedding; a lookup
// tries the exact key first, then the nearest neighbours in the same tenant
// and scope (layer, model, embedder), each checked against the database
// (alive, same scope and context), against the threshold, against the
// guard that refuses look-alike questions, and against the wrong hits users
// reported.
#include "daemon/handlers/handler.hpp"
#include "protocol/canonical.hpp"
#include "protocol/layers.hpp"
#include "store/semantic/guard.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <optional>

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

// The cosine of two unit vectors. Their components are floats, each rounded
// on its own when the vector was normalised, so equal vectors can come out a
// few parts in 10^8 above 1: a cosine never is, and clients show and compare it.
double
dot(std::span<const float> a, std::span<const float> b)
{
  double sum = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    sum += static_cast<double>(a[i]) * b[i];
  }
  return std::clamp(sum, -1.0, 1.0);
}

struct Question
{
  std::string layer;
  std::string model;
  std::string text;
  std::string context;
  std::string key; // the exact key
  std::vector<float> vector;
  std::string embedder;

  std::string scope() const { return protocol::canonical_json(Json::array({layer, model, embedder})); }
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

// The question of a request, with the client's vector if it sent one.
Question
question_of(const Context& context, const Json& header)
{
  Question q;
  q.layer = protocol::optional_string(header, "layer").value_or("semantic");
  if (!protocol::is_semantic_layer(q.layer)) {
    throw Error(ErrorCode::bad_request,
                fmt::format("field 'layer' must be semantic, response or run, got '{}'", q.layer));
  }
  q.model = protocol::optional_string(header, "model").value_or("");
  q.text = protocol::required_string(header, "text");
  q.context = protocol::optional_string(header, "context").value_or("");
  if (q.text.empty() || (q.model.empty() && q.layer != "run")) {
    throw Error(ErrorCode::bad_request, "fields 'model' and 'text' must not be empty");
  }
  if (q.layer == "semantic") {
    q.key = protocol::semantic_key(q.model, q.text, q.context);
  } else {
    q.key = key_of(header, context.settings); // the client's exact key
  }
  if (const auto vector = header.find("vector"); vector != header.end() && !vector->is_null()) {
    q.vector = client_vector(*vector);
    q.embedder = fmt::format("client/d{}", q.vector.size());
  }
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

// Gives the question its vector (unless the client sent one), then calls
// `next(question, warning)` on the connection's thread. An exception from
// `next` becomes the request's error reply.
void
with_vector(Context& context, const std::string& tenant, Question question, std::uint64_t request_id,
            Completion done,
            std::function<std::optional<protocol::Reply>(Question, std::string)> next)
{
  const auto run = [request_id](const Completion& reply_to,
                                const std::function<std::optional<protocol::Reply>()>& step) {
    try {
      if (auto reply = step()) {
        reply_to(std::move(*reply));
      }
    } catch (const Error& e) {
      reply_to(protocol::make_error(request_id, e.code(), e.what()));
    } catch (const std::exception& e) {
      reply_to(protocol::make_error(request_id, ErrorCode::internal, e.what()));
    }
  };
  if (!question.vector.empty()) {
    run(done, [&] { return next(std::move(question), ""); });
    return;
  }
  std::string text = question.text;
  embed_text(context, tenant, std::move(text),
             [run, done = std::move(done), next = std::move(next), q = std::move(question)](Embedded e) mutable {
               q.vector = std::move(e.vector);
               q.embedder = std::move(e.embedder);
               run(done, [&] { return next(std::move(q), std::move(e.warning)); });
             });
}

protocol::Request
request_with_id(std::uint64_t id)
{
  protocol::Request request;
  request.id = id;
  return request;
}

} // namespace

void
handle_semantic_set(Context& context, const protocol::Request& request, Completion done)
{
  const std::string tenant = tenant_of(request);
  auto question = question_of(context, request.header);
  Json fields = request.header;
  fields["key"] = question.key;
  fields["layer"] = question.layer;
  store::EntryWrite entry = entry_of(fields, context.settings, tenant);
  entry.value.assign(request.value);
  auto held = std::make_shared<HeldContext>(context);
  const std::uint64_t id = request.id;
  with_vector(
    context, tenant, std::move(question), id, done,
    [held, id, done, tenant, entry = std::make_shared<store::EntryWrite>(std::move(entry))](Question q,
                                                                                           std::string warning) {
      if (!q.vector.empty()) {
        entry->vector = store::VectorWrite{q.scope(), q.context, q.text, q.vector};
      }
      const std::int64_t ttl_ms = entry->ttl_ms;
      auto later = held->context();
      store::TenantKeys settles{tenant, {q.key}};
      // The index gets the vector from the commit's observers (commit_effects.hpp),
      // before this reply; the shared tier gets the entry without it.
      submit_write(
        later, request_with_id(id),
        [entry](store::Writer& writer) { return Json{{"replaced", writer.set(*entry, store::now_ms())}}; },
        [done, ttl_ms, q = std::move(q), warning = std::move(warning)](protocol::Reply reply) {
          if (reply.ok) {
            reply.header["ttl_ms"] = ttl_ms == 0 ? Json(nullptr) : Json(ttl_ms);
            reply.header["key"] = q.key;
            reply.header["embedder"] = q.embedder;
            reply.header["indexed"] = !q.vector.empty();
            if (!warning.empty()) {
              reply.header["warning"] = warning;
            }
          }
          done(std::move(reply));
        },
        std::move(settles));
      return std::nullopt;
    });
}

void
handle_semantic_get(Context& context, const protocol::Request& request, Completion done)
{
  const std::string tenant = tenant_of(request);
  auto question = question_of(context, request.header);
  const double threshold = threshold_of(request.header, context.settings);
  const bool guard = protocol::optional_bool(request.header, "guard", context.settings.semantic_guard == "on");

  // The exact question first: no embedding comparison can beat it.
  const std::int64_t first_look = store::now_ms();
  if (context.reader.exists(tenant, question.key, first_look)) {
    if (auto hit = context.reader.get(tenant, question.key, question.layer, first_look)) {
      auto reply = hit_reply(context, request, tenant, std::move(*hit));
      reply.header.update({{"match", "exact"}, {"similarity", 1.0}, {"key", question.key}});
      done(std::move(reply));
      return;
    }
  }

  auto held = std::make_shared<HeldContext>(context);
  auto copy = std::make_shared<protocol::Request>();
  copy->id = request.id;
  copy->op = request.op;
  with_vector(
    context, tenant, std::move(question), request.id, done,
    [held, copy, tenant, threshold, guard](Question q, std::string warning) -> std::optional<protocol::Reply> {
      auto later = held->context();
      auto& index = later.shared.index;
      const std::int64_t now = store::now_ms();
      Json rejected = Json::array();
      const auto scope = q.scope();
      const auto candidates =
        q.vector.empty() ? std::vector<store::semantic::Neighbour>{} : index.search(tenant, scope, q.vector, k_candidates);
      for (const auto& candidate : candidates) {
        auto row = later.reader.vector_of(candidate.id);
        if (!row || row->tenant != tenant || row->scope != scope) {
          index.remove(tenant, scope, candidate.id); // its entry is gone
          continue;
        }
        if (row->context != q.context || (row->expires_ms != 0 && row->expires_ms <= now)) {
          continue;
        }
        // The stored vector, not the index's copy, decides.
        const double similarity = dot(row->vector, q.vector);
        if (!reaches(similarity, threshold)) {
          continue;
        }
        if (guard) {
          const auto verdict = store::semantic::check_guard(q.text, row->text);
          if (!verdict.accept) {
            ++later.shared.metrics.guard_rejections;
            rejected.push_back({{"key", row->key}, {"similarity", similarity}, {"reason", verdict.reason}});
            continue;
          }
        }
        // A user said this entry wrongly answered a query this one matches.
        bool reported = false;
        for (const auto& wrong : later.reader.semantic_rejects(candidate.id)) {
          reported = reported || (wrong.size() == q.vector.size() && reaches(dot(wrong, q.vector), threshold));
        }
        if (reported) {
          ++later.shared.metrics.feedback_rejections;
          rejected.push_back({{"key", row->key}, {"similarity", similarity}, {"reason", "reported wrong"}});
          continue;
        }
        if (auto hit = later.reader.get(tenant, row->key, q.layer, now)) {
          auto reply = hit_reply(later, *copy, tenant, std::move(*hit));
          reply.header.update({{"match", "semantic"}, {"similarity", similarity}, {"key", row->key}});
          if (!rejected.empty()) {
            reply.header["rejected"] = std::move(rejected);
          }
          return reply;
        }
      }
      later.shared.store.stats().count(tenant, q.layer, store::Counter::misses);
      Json fields{{"found", false}, {"key", q.key}};
      if (!rejected.empty()) {
        fields["rejected"] = std::move(rejected);
      }
      if (!warning.empty()) {
        fields["warning"] = std::move(warning);
      }
      return ok_reply(*copy, std::move(fields));
    });
}

void
handle_semantic_reject(Context& context, const protocol::Request& request, Completion done)
{
  const std::string tenant = tenant_of(request);
  Question query;
  query.key = key_of(request.header, context.settings);
  query.text = protocol::required_string(request.header, "text");
  if (query.text.empty()) {
    throw Error(ErrorCode::bad_request, "field 'text' must not be empty");
  }
  if (const auto vector = request.header.find("vector"); vector != request.header.end() && !vector->is_null()) {
    query.vector = client_vector(*vector);
  }
  auto held = std::make_shared<HeldContext>(context);
  const std::uint64_t id = request.id;
  with_vector(context, tenant, std::move(query), id, done,
              [held, id, done, tenant](Question q, std::string warning) -> std::optional<protocol::Reply> {
    if (q.vector.empty()) {
      throw Error(ErrorCode::unavailable, fmt::format("cannot embed the query: {}", warning));
    }
    auto later = held->context();
    submit_write(
      later, request_with_id(id),
      [tenant, q](store::Writer& writer) {
        // Like a get's miss, an unknown key is an answer, not an error.
        const auto entry = writer.add_semantic_reject(tenant, q.key, q.text, q.vector, store::now_ms());
        return Json{{"key", q.key}, {"recorded", entry.has_value()}};
      },
      [done, &metrics = held->shared.metrics](protocol::Reply reply) {
        if (reply.ok && reply.header.value("recorded", false)) {
          ++metrics.false_hits_reported;
        }
        done(std::move(reply));
      });
    return std::nullopt;
  });
}

} // namespace omnicache::daemon
