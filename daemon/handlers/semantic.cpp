// semantic_set, semantic_get and semantic_reject: answers found by meaning.
// An entry keeps the text it answers and that text's embedding; a lookup
// tries the exact key first, then the nearest neighbours in the same tenant
// and scope (layer, model, embedder), each checked against the database
// (alive, same scope and context), against the threshold, against the
// guard that refuses look-alike questions, and against the wrong hits users
// reported.
#include "daemon/handlers/typed.hpp"
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

// The question of a semantic_set or semantic_get, with the client's vector if
// it sent one.
template <class Request>
Question
question_of(const Context& context, const Request& request)
{
  Question q;
  q.layer = request.layer.value_or("semantic");
  if (!protocol::is_semantic_layer(q.layer)) {
    throw Error(ErrorCode::bad_request,
                fmt::format("field 'layer' must be semantic, response or run, got '{}'", q.layer));
  }
  q.model = request.model.value_or("");
  q.text = request.text;
  q.context = request.context.value_or("");
  if (q.text.empty() || (q.model.empty() && q.layer != "run")) {
    throw Error(ErrorCode::bad_request, "fields 'model' and 'text' must not be empty");
  }
  if (q.layer == "semantic") {
    q.key = protocol::semantic_key(q.model, q.text, q.context);
  } else if (!request.key) {
    throw Error(ErrorCode::bad_request, "missing field 'key'");
  } else {
    q.key = checked_key(*request.key, context.settings); // the client's exact key
  }
  if (!request.vector.is_null()) {
    q.vector = client_vector(request.vector);
    q.embedder = fmt::format("client/d{}", q.vector.size());
  }
  return q;
}

double
threshold_of(const Json& threshold, const protocol::Settings& settings)
{
  if (threshold.is_null()) {
    return settings.semantic_threshold;
  }
  if (!threshold.is_number() || threshold.get<double>() < 0 || threshold.get<double>() > 1) {
    throw Error(ErrorCode::bad_request, "field 'threshold' must be a number from 0 to 1");
  }
  return threshold.get<double>();
}

// Gives the question its vector (unless the client sent one), then calls
// `next(question, warning)` on the connection's thread; what it returns, if
// anything, is the reply. An exception from `next` becomes the request's
// error reply.
template <class Reply>
void
with_vector(Context& context, const std::string& tenant, Question question, Done<Reply> done,
            std::function<std::optional<Reply>(Question, std::string)> next)
{
  const auto run = [](const Done<Reply>& reply_to, const std::function<std::optional<Reply>()>& step) {
    try {
      if (auto reply = step()) {
        reply_to(std::move(*reply));
      }
    } catch (const std::exception&) {
      reply_to.fail(std::current_exception());
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

// A hit as semantic_get describes it: get's fields, and how it matched.
protocol::ops::SemanticGetReply
semantic_hit(protocol::ops::GetReply hit, std::string match, double similarity, std::string key)
{
  protocol::ops::SemanticGetReply reply;
  reply.found = hit.found;
  reply.layer = std::move(hit.layer);
  reply.expires_ms = hit.expires_ms;
  reply.meta = std::move(hit.meta);
  reply.tier = std::move(hit.tier);
  reply.value = std::move(hit.value);
  reply.match = std::move(match);
  reply.similarity = similarity;
  reply.key = std::move(key);
  return reply;
}

} // namespace

void
handle_semantic_set(Context& context, const protocol::ops::SemanticSetRequest& request,
                    Done<protocol::ops::SemanticSetReply> done)
{
  const std::string tenant = tenant_of(request.tenant);
  auto question = question_of(context, request);
  protocol::ops::SetRequest fields;
  fields.key = question.key;
  fields.layer = question.layer;
  fields.tags = request.tags;
  fields.deps = request.deps;
  fields.ttl_ms = request.ttl_ms;
  fields.meta = request.meta;
  store::EntryWrite entry = entry_of(fields, context.settings, tenant);
  entry.value.assign(request.value.bytes);
  auto held = std::make_shared<HeldContext>(context);
  with_vector<protocol::ops::SemanticSetReply>(
    context, tenant, std::move(question), done,
    [held, done, tenant, entry = std::make_shared<store::EntryWrite>(std::move(entry))](
      Question q, std::string warning) -> std::optional<protocol::ops::SemanticSetReply> {
      if (!q.vector.empty()) {
        entry->vector = store::VectorWrite{q.scope(), q.context, q.text, q.vector};
      }
      protocol::ops::SemanticSetReply reply;
      reply.ttl_ms = entry->ttl_ms == 0 ? std::nullopt : std::optional<std::int64_t>(entry->ttl_ms);
      reply.key = q.key;
      reply.embedder = q.embedder;
      reply.indexed = !q.vector.empty();
      if (!warning.empty()) {
        reply.warning = std::move(warning);
      }
      auto later = held->context();
      store::TenantKeys settles{tenant, {q.key}};
      // The index gets the vector from the commit's observers (commit_effects.hpp),
      // before this reply; the shared tier gets the entry without it.
      submit_typed_write(
        later,
        [entry, reply = std::move(reply)](store::Writer& writer) {
          auto stored = reply;
          stored.replaced = writer.set(*entry, store::now_ms());
          return stored;
        },
        done, std::move(settles));
      return std::nullopt;
    });
}

void
handle_semantic_get(Context& context, const protocol::ops::SemanticGetRequest& request,
                    Done<protocol::ops::SemanticGetReply> done)
{
  const std::string tenant = tenant_of(request.tenant);
  auto question = question_of(context, request);
  const double threshold = threshold_of(request.threshold, context.settings);
  const bool guard = request.guard.value_or(context.settings.semantic_guard == "on");

  // The exact question first: no embedding comparison can beat it.
  const std::int64_t first_look = store::now_ms();
  if (context.reader.exists(tenant, question.key, first_look)) {
    if (auto hit = context.reader.get(tenant, question.key, question.layer, first_look)) {
      done(semantic_hit(hit_of(context, tenant, std::move(*hit)), "exact", 1.0, question.key));
      return;
    }
  }

  auto held = std::make_shared<HeldContext>(context);
  with_vector<protocol::ops::SemanticGetReply>(
    context, tenant, std::move(question), std::move(done),
    [held, tenant, threshold, guard](Question q,
                                     std::string warning) -> std::optional<protocol::ops::SemanticGetReply> {
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
          auto reply = semantic_hit(hit_of(later, tenant, std::move(*hit)), "semantic", similarity, row->key);
          if (!rejected.empty()) {
            reply.rejected = std::move(rejected);
          }
          return reply;
        }
      }
      later.shared.store.stats().count(tenant, q.layer, store::Counter::misses);
      protocol::ops::SemanticGetReply miss;
      miss.key = q.key;
      if (!rejected.empty()) {
        miss.rejected = std::move(rejected);
      }
      if (!warning.empty()) {
        miss.warning = std::move(warning);
      }
      return miss;
    });
}

void
handle_semantic_reject(Context& context, const protocol::ops::SemanticRejectRequest& request,
                       Done<protocol::ops::SemanticRejectReply> done)
{
  const std::string tenant = tenant_of(request.tenant);
  Question query;
  query.key = checked_key(request.key, context.settings);
  query.text = request.text;
  if (query.text.empty()) {
    throw Error(ErrorCode::bad_request, "field 'text' must not be empty");
  }
  if (!request.vector.is_null()) {
    query.vector = client_vector(request.vector);
  }
  auto held = std::make_shared<HeldContext>(context);
  with_vector<protocol::ops::SemanticRejectReply>(
    context, tenant, std::move(query), done,
    [held, done, tenant](Question q, std::string warning) -> std::optional<protocol::ops::SemanticRejectReply> {
      if (q.vector.empty()) {
        throw Error(ErrorCode::unavailable, fmt::format("cannot embed the query: {}", warning));
      }
      auto later = held->context();
      auto result = std::make_shared<protocol::ops::SemanticRejectReply>();
      submit_job(
        later,
        [result, tenant, q](store::Writer& writer) {
          // Like a get's miss, an unknown key is an answer, not an error.
          const auto entry = writer.add_semantic_reject(tenant, q.key, q.text, q.vector, store::now_ms());
          result->key = q.key;
          result->recorded = entry.has_value();
        },
        // Counted once committed, as the reply is sent.
        [result, done, &metrics = held->shared.metrics](std::exception_ptr error) {
          if (error) {
            done.fail(error);
            return;
          }
          if (result->recorded) {
            ++metrics.false_hits_reported;
          }
          done(std::move(*result));
        },
        {});
      return std::nullopt;
    });
}

} // namespace omnicache::daemon
