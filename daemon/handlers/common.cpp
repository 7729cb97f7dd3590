#include "daemon/handlers/handler.hpp"
#include "daemon/handlers/typed.hpp"

#include "protocol/layers.hpp"

#include <fmt/core.h>

#include <boost/asio/post.hpp>

#include <memory>
#include <utility>
#include <vector>

namespace omnicache::daemon {

using protocol::Error;
using protocol::ErrorCode;
using protocol::Json;

namespace {

constexpr std::size_t k_max_tenant_bytes = 256;

void
check_length(std::string_view what, std::string_view text, std::uint64_t limit, const char* setting)
{
  if (text.size() > limit) {
    throw Error(ErrorCode::too_large,
                fmt::format("{} of {} bytes is over the limit of {} bytes ({})", what, text.size(), limit, setting));
  }
}

// A hit on an entry whose metadata names a model and its token counts saved
// those tokens, and what [prices] says they cost.
void
count_savings(Context& context, const std::string& tenant, const Json& meta)
{
  const auto model = meta.find("model");
  if (model == meta.end() || !model->is_string()) {
    return;
  }
  auto tokens = [&meta](const char* name) {
    const auto it = meta.find(name);
    return it != meta.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : std::uint64_t{0};
  };
  store::ModelValues saved{};
  saved[static_cast<std::size_t>(store::ModelCounter::hits)] = 1;
  const auto prompt = tokens("prompt_tokens");
  const auto completion = tokens("completion_tokens");
  saved[static_cast<std::size_t>(store::ModelCounter::prompt_tokens)] = prompt;
  saved[static_cast<std::size_t>(store::ModelCounter::completion_tokens)] = completion;
  const auto& prices = context.settings.prices;
  if (const auto price = prices.find(model->get_ref<const std::string&>()); price != prices.end()) {
    // USD per million tokens is 1000 nano-USD per token.
    const double nanousd = 1000.0 * (static_cast<double>(prompt) * price->second.input
                                     + static_cast<double>(completion) * price->second.output);
    saved[static_cast<std::size_t>(store::ModelCounter::cost_nanousd)] = static_cast<std::uint64_t>(nanousd + 0.5);
  }
  context.shared.store.stats().count_model(tenant, model->get_ref<const std::string&>(), saved);
}

// Writes that arrive in one turn of a thread's event loop (one from each of
// many clients, say) reach the writer together, so that one commit holds them
// all: the commit, not the row, is what costs. The batch is handed over by a
// handler posted behind the ones already ready, so no write waits for more
// than the current turn.
thread_local std::vector<store::WriteJob> t_pending_writes;

void
queue_write(Context& context, store::WriteJob job)
{
  if (t_pending_writes.empty()) {
    boost::asio::post(context.connection->executor, [&store = context.shared.store] {
      store.submit(std::exchange(t_pending_writes, {}));
    });
  }
  t_pending_writes.push_back(std::move(job));
}

} // namespace

std::string
tenant_of(const std::optional<std::string>& tenant)
{
  if (!tenant) {
    // Not the daemon's own client.tenant: that setting belongs to clients.
    return std::string(protocol::k_default_tenant);
  }
  if (tenant->empty()) {
    throw Error(ErrorCode::bad_request, "field 'tenant' must not be empty");
  }
  if (tenant->size() > k_max_tenant_bytes) {
    throw Error(ErrorCode::too_large, fmt::format("tenant of {} bytes is over the limit of {} bytes", tenant->size(),
                                                  k_max_tenant_bytes));
  }
  return *tenant;
}

const std::string&
checked_key(const std::string& key, const protocol::Settings& settings, const char* field)
{
  if (key.empty()) {
    throw Error(ErrorCode::bad_request, fmt::format("field '{}' must not be empty", field));
  }
  check_length("key", key, settings.max_key_bytes, "limits.max_key_bytes");
  return key;
}

const std::vector<std::string>&
checked_keys(const std::vector<std::string>& keys, const protocol::Settings& settings)
{
  if (keys.empty()) {
    throw Error(ErrorCode::bad_request, "field 'keys' must name at least one key");
  }
  for (const auto& key : keys) {
    if (key.empty()) {
      throw Error(ErrorCode::bad_request, "field 'keys' must not hold an empty key");
    }
    check_length("key", key, settings.max_key_bytes, "limits.max_key_bytes");
  }
  return keys;
}

const std::vector<std::string>&
checked_tags(const std::vector<std::string>& tags, const protocol::Settings& settings)
{
  if (tags.size() > settings.max_tags) {
    throw Error(ErrorCode::too_large, fmt::format("{} tags is over the limit of {} (limits.max_tags)", tags.size(),
                                                  settings.max_tags));
  }
  for (const auto& tag : tags) {
    if (tag.empty()) {
      throw Error(ErrorCode::bad_request, "a tag must not be empty");
    }
    check_length("tag", tag, settings.max_tag_bytes, "limits.max_tag_bytes");
  }
  return tags;
}

std::string
checked_layer(const std::optional<std::string>& layer, bool required_default)
{
  if (!layer) {
    return required_default ? std::string(protocol::k_default_layer) : std::string();
  }
  if (!protocol::is_layer(*layer)) {
    std::string names;
    for (auto name : protocol::k_layer_names) {
      names += names.empty() ? "" : ", ";
      names += name;
    }
    throw Error(ErrorCode::bad_request, fmt::format("unknown layer '{}' (layers: {})", *layer, names));
  }
  return *layer;
}

store::Selector
listing_selector_of(const std::optional<std::string>& pattern, const std::optional<std::string>& layer,
                    const std::vector<std::string>& tags, const protocol::Settings& settings)
{
  store::Selector selector;
  selector.pattern = pattern.value_or(std::string());
  selector.layer = checked_layer(layer, false);
  selector.tags = checked_tags(tags, settings);
  return selector;
}

std::size_t
page_limit_of(std::optional<std::int64_t> given, std::int64_t by_default, std::int64_t most)
{
  const std::int64_t limit = given.value_or(by_default);
  if (limit < 1 || limit > most) {
    throw Error(ErrorCode::bad_request, fmt::format("field 'limit' must be from 1 to {}, got {}", most, limit));
  }
  return static_cast<std::size_t>(limit);
}

std::vector<store::Dependency>
checked_deps(const Json& given, const protocol::Settings& settings)
{
  std::vector<store::Dependency> deps;
  if (given.is_null()) {
    return deps;
  }
  if (!given.is_array()) {
    throw Error(ErrorCode::bad_request, fmt::format("field 'deps' must be an array, got {}", given.type_name()));
  }
  for (const auto& item : given) {
    store::Dependency dep;
    if (item.is_string()) {
      dep.name = item.get<std::string>();
    } else if (item.is_object()) {
      dep.name = protocol::required_string(item, "name");
      dep.version = protocol::optional_string(item, "version").value_or("");
    } else {
      throw Error(ErrorCode::bad_request,
                  fmt::format("field 'deps' must hold names or {{\"name\", \"version\"}} objects, found {}",
                              item.type_name()));
    }
    if (dep.name.empty()) {
      throw Error(ErrorCode::bad_request, "a dependency name must not be empty");
    }
    check_length("dependency", dep.name, settings.max_tag_bytes, "limits.max_tag_bytes");
    check_length("dependency version", dep.version, settings.max_tag_bytes, "limits.max_tag_bytes");
    deps.push_back(std::move(dep));
  }
  if (deps.size() > settings.max_tags) {
    throw Error(ErrorCode::too_large, fmt::format("{} dependencies is over the limit of {} (limits.max_tags)",
                                                  deps.size(), settings.max_tags));
  }
  return deps;
}

std::string
checked_meta(const Json& meta)
{
  if (meta.is_null()) {
    return {};
  }
  if (!meta.is_object()) {
    throw Error(ErrorCode::bad_request, fmt::format("field 'meta' must be an object, got {}", meta.type_name()));
  }
  return meta.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::int64_t
checked_ttl(std::optional<std::int64_t> ttl, const protocol::Settings& settings, const std::string& layer)
{
  if (ttl && (*ttl < 0 || *ttl > protocol::k_max_ttl_ms)) {
    throw Error(ErrorCode::bad_request, fmt::format("field 'ttl_ms' must be 0 (never) or from 1 to {}, got {}",
                                                    protocol::k_max_ttl_ms, *ttl));
  }
  return ttl ? *ttl : settings.default_ttl_ms(layer);
}

store::EntryWrite
entry_of(const protocol::ops::SetRequest& request, const protocol::Settings& settings, const std::string& tenant)
{
  store::EntryWrite entry;
  entry.tenant = tenant;
  entry.key = checked_key(request.key, settings);
  entry.layer = checked_layer(request.layer, true);
  entry.tags = checked_tags(request.tags, settings);
  entry.deps = checked_deps(request.deps, settings);
  entry.ttl_ms = checked_ttl(request.ttl_ms, settings, entry.layer);
  entry.meta = checked_meta(request.meta);
  return entry;
}

protocol::ops::GetReply
hit_of(Context& context, const std::string& tenant, store::Hit hit, bool from_shared_tier)
{
  protocol::ops::GetReply reply;
  reply.found = true;
  reply.layer = std::move(hit.layer);
  reply.expires_ms = hit.expires_ms == 0 ? std::nullopt : std::optional<std::int64_t>(hit.expires_ms);
  // Only entries written with meta pay for parsing it.
  if (!hit.meta.empty()) {
    Json meta = Json::parse(hit.meta, nullptr, false);
    if (meta.is_object()) {
      count_savings(context, tenant, meta);
      reply.meta = std::move(meta);
    }
  }
  if (auto* replication = context.shared.replication) {
    reply.tier = from_shared_tier ? "L2" : "L1";
    replication->count_hit(from_shared_tier);
  }
  reply.value = std::move(hit.value);
  return reply;
}

void
submit_job(Context& context, std::function<void(store::Writer&)> apply,
           std::function<void(std::exception_ptr)> finished, store::TenantKeys settles)
{
  queue_write(context, store::WriteJob{
    std::move(apply),
    std::move(finished),
    store::Origin{context.connection->id, true},
    std::move(settles),
  });
}

} // namespace omnicache::daemon
