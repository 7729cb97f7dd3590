#include "daemon/tier/keys.hpp"

#include <nlohmann/json.hpp>

namespace omnicache::daemon::tier {

using Json = nlohmann::json;

namespace {

// KEYS[1]: the entry.
constexpr std::string_view k_lookup_script = R"lua(
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
return {h, redis.call('PTTL', KEYS[1])}
)lua";

// KEYS[1]: the entry; KEYS[2..]: the sets of its tags and dependencies.
// ARGV: value, layer, meta, tags, deps, ttl in ms (0: never), the key.
constexpr std::string_view k_set_script = R"lua(
local ttl = tonumber(ARGV[6])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'l', ARGV[2], 'm', ARGV[3], 't', ARGV[4], 'd', ARGV[5])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
for i = 2, #KEYS do
  local left = redis.call('PTTL', KEYS[i])
  redis.call('SADD', KEYS[i], ARGV[7])
  if ttl == 0 then
    if left ~= -1 then redis.call('PERSIST', KEYS[i]) end
  elseif left == -2 or (left >= 0 and left < ttl) then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 1
)lua";

// KEYS: the tag sets, or (ARGV[5] '0') only a key of the tenant's, so that a
// cluster runs the script where the tenant's keys are, and every key matching
// ARGV[2] is considered. ARGV: the tenant's entry prefix, a SCAN pattern, a
// Lua pattern for the key ('' any), a layer ('' any), whether KEYS are tag sets.
constexpr std::string_view k_invalidate_script = R"lua(
local prefix, n = ARGV[1], 0
local function consider(key)
  if ARGV[3] ~= '' and not string.match(key, ARGV[3]) then return end
  local full = prefix .. key
  if ARGV[4] ~= '' and redis.call('HGET', full, 'l') ~= ARGV[4] then return end
  n = n + redis.call('DEL', full)
end
if ARGV[5] == '1' then
  for _, set in ipairs(KEYS) do
    for _, key in ipairs(redis.call('SMEMBERS', set)) do consider(key) end
    if ARGV[3] == '' and ARGV[4] == '' then redis.call('DEL', set) end
  end
else
  local cursor = '0'
  repeat
    local page = redis.call('SCAN', cursor, 'MATCH', ARGV[2], 'COUNT', 1000)
    cursor = page[1]
    for _, full in ipairs(page[2]) do consider(string.sub(full, #prefix + 1)) end
  until cursor == '0'
end
return n
)lua";

// KEYS: dependency sets. ARGV[1]: the tenant's entry prefix.
constexpr std::string_view k_dependencies_script = R"lua(
local n = 0
for _, set in ipairs(KEYS) do
  for _, key in ipairs(redis.call('SMEMBERS', set)) do n = n + redis.call('DEL', ARGV[1] .. key) end
  redis.call('DEL', set)
end
return n
)lua";

// ARGV[1]: a SCAN pattern; every key matching it goes. KEYS[1], when given,
// only routes the script to the node of a tenant's keys.
constexpr std::string_view k_flush_script = R"lua(
local cursor, n = '0', 0
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do n = n + redis.call('DEL', key) end
until cursor == '0'
return n
)lua";

// So that a tenant's part of a key holds no ':' (the separator) nor braces
// (the hash tag), and no two tenants share one.
std::string
escape_tenant(std::string_view tenant)
{
  std::string out;
  out.reserve(tenant.size());
  for (const char c : tenant) {
    switch (c) {
    case '%': out += "%25"; break;
    case ':': out += "%3A"; break;
    case '{': out += "%7B"; break;
    case '}': out += "%7D"; break;
    default: out += c;
    }
  }
  return out;
}

// Literal text inside a SCAN pattern.
std::string
escape_glob(std::string_view text)
{
  std::string out;
  for (const char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

// SQLite's GLOB has no escape character; Redis's has one.
std::string
sqlite_glob_for_redis(std::string_view glob)
{
  std::string out;
  for (const char c : glob) {
    if (c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

RedisCommand
script(std::string_view body, const std::vector<std::string>& keys, std::vector<std::string> arguments)
{
  RedisCommand command{"EVAL", std::string(body), std::to_string(keys.size())};
  command.insert(command.end(), keys.begin(), keys.end());
  for (auto& argument : arguments) {
    command.push_back(std::move(argument));
  }
  return command;
}

} // namespace

std::string
Keys::tenant_part(std::string_view tenant) const
{
  return m_prefix + "{" + escape_tenant(tenant) + "}:";
}

std::string
Keys::entry(std::string_view tenant, std::string_view key) const
{
  return tenant_part(tenant) + "e:" + std::string(key);
}

std::string
Keys::tag(std::string_view tenant, std::string_view tag) const
{
  return tenant_part(tenant) + "t:" + std::string(tag);
}

std::string
Keys::dep(std::string_view tenant, std::string_view name) const
{
  return tenant_part(tenant) + "d:" + std::string(name);
}

RedisCommand
Keys::lookup(std::string_view tenant, std::string_view key) const
{
  return script(k_lookup_script, {entry(tenant, key)}, {});
}

RedisCommand
Keys::set(const store::EntryWrite& entry) const
{
  std::vector<std::string> keys{this->entry(entry.tenant, entry.key)};
  for (const auto& name : entry.tags) {
    keys.push_back(tag(entry.tenant, name));
  }
  Json deps = Json::array();
  for (const auto& dependency : entry.deps) {
    keys.push_back(dep(entry.tenant, dependency.name));
    deps.push_back({{"name", dependency.name}, {"version", dependency.version}});
  }
  return script(k_set_script, keys,
                {std::string(entry.bytes()), entry.layer, entry.meta, Json(entry.tags).dump(), deps.dump(),
                 std::to_string(entry.ttl_ms), entry.key});
}

std::vector<RedisCommand>
Keys::invalidate(const Invalidation& change, std::string_view origin, std::uint64_t log_length) const
{
  std::vector<RedisCommand> commands;
  const std::string entries = tenant_part(change.tenant) + "e:";
  switch (change.kind) {
  case Invalidation::Kind::keys: {
    RedisCommand del{"DEL"};
    for (const auto& key : change.keys) {
      del.push_back(entry(change.tenant, key));
    }
    if (del.size() > 1) {
      commands.push_back(std::move(del));
    }
    break;
  }
  case Invalidation::Kind::selector: {
    const auto& selector = change.selector;
    std::vector<std::string> sets;
    for (const auto& name : selector.tags) {
      sets.push_back(tag(change.tenant, name));
    }
    const std::string pattern = selector.pattern.empty() ? std::string("*") : selector.pattern;
    const bool by_tags = !sets.empty();
    if (!by_tags) {
      sets.push_back(tenant_part(change.tenant)); // routes only
    }
    commands.push_back(script(k_invalidate_script, sets,
                              {entries, escape_glob(entries) + sqlite_glob_for_redis(pattern),
                               by_tags && !selector.pattern.empty() ? glob_to_lua(selector.pattern) : std::string(),
                               selector.layer, by_tags ? "1" : "0"}));
    break;
  }
  case Invalidation::Kind::deps: {
    std::vector<std::string> sets;
    for (const auto& name : change.deps) {
      sets.push_back(dep(change.tenant, name));
    }
    commands.push_back(script(k_dependencies_script, sets, {entries}));
    break;
  }
  case Invalidation::Kind::flush:
    if (change.all_tenants) {
      commands.push_back(script(k_flush_script, {}, {escape_glob(m_prefix) + "{*"}));
    } else {
      commands.push_back(script(k_flush_script, {tenant_part(change.tenant)},
                                {escape_glob(tenant_part(change.tenant)) + "*"}));
    }
    break;
  }
  commands.push_back(log_record(change, origin, log_length));
  return commands;
}

RedisCommand
Keys::log_record(const Invalidation& change, std::string_view origin, std::uint64_t log_length) const
{
  return {"XADD", log(), "MAXLEN", "~", std::to_string(log_length), "*", "o", std::string(origin), "c",
          encode_invalidation(change)};
}

std::string
glob_to_lua(std::string_view glob)
{
  std::string out = "^";
  for (std::size_t i = 0; i < glob.size(); ++i) {
    const char c = glob[i];
    if (c == '*') {
      out += ".*";
    } else if (c == '?') {
      out += '.';
    } else if (c == '[' && glob.find(']', i + 2) != std::string_view::npos) {
      // A class: [abc], [a-z], [^abc]; a ']' right after '[' or '[^' is one of its characters.
      std::size_t j = i + 1;
      out += '[';
      if (glob[j] == '^') {
        out += '^';
        ++j;
      }
      if (glob[j] == ']') {
        out += "%]";
        ++j;
      }
      for (; j < glob.size() && glob[j] != ']'; ++j) {
        if (glob[j] == '%') {
          out += '%';
        }
        out += glob[j];
      }
      out += ']';
      i = j;
    } else {
      if (std::string_view("^$()%.[]*+-?").find(c) != std::string_view::npos) {
        out += '%';
      }
      out += c;
    }
  }
  return out + "$";
}

std::optional<SharedEntry>
parse_lookup(const RedisReply& reply, std::int64_t sent_ms)
{
  if (reply.type != RedisReply::Type::array || reply.elements.size() != 2
      || reply.elements[0].type != RedisReply::Type::array || reply.elements[1].type != RedisReply::Type::integer) {
    return std::nullopt;
  }
  const auto& fields = reply.elements[0].elements;
  SharedEntry entry;
  bool has_value = false;
  try {
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      const auto& name = fields[i].text;
      const auto& value = fields[i + 1].text;
      if (name == "v") {
        entry.value = value;
        has_value = true;
      } else if (name == "l") {
        entry.layer = value;
      } else if (name == "m") {
        entry.meta = value;
      } else if (name == "t") {
        entry.tags = Json::parse(value).get<std::vector<std::string>>();
      } else if (name == "d") {
        for (const auto& dep : Json::parse(value)) {
          entry.deps.push_back({dep.at("name").get<std::string>(), dep.at("version").get<std::string>()});
        }
      }
    }
  } catch (const Json::exception&) {
    return std::nullopt;
  }
  const std::int64_t ttl = reply.elements[1].integer;
  if (!has_value || entry.layer.empty() || ttl == 0 || ttl == -2) {
    return std::nullopt; // not an entry of ours, or gone this very moment
  }
  entry.expires_ms = ttl < 0 ? 0 : sent_ms + ttl;
  return entry;
}

std::string
encode_invalidation(const Invalidation& change)
{
  Json out{{"tenant", change.tenant}};
  switch (change.kind) {
  case Invalidation::Kind::keys:
    out["keys"] = change.keys;
    break;
  case Invalidation::Kind::selector:
    out["tags"] = change.selector.tags;
    out["pattern"] = change.selector.pattern;
    out["layer"] = change.selector.layer;
    break;
  case Invalidation::Kind::deps:
    out["deps"] = change.deps;
    out["version"] = change.version;
    break;
  case Invalidation::Kind::flush:
    out["flush"] = true;
    out["all_tenants"] = change.all_tenants;
    break;
  }
  return out.dump();
}

std::optional<Invalidation>
decode_invalidation(std::string_view text)
{
  const Json in = Json::parse(text, nullptr, false);
  if (!in.is_object() || !in.contains("tenant") || !in["tenant"].is_string()) {
    return std::nullopt;
  }
  Invalidation change;
  try {
    change.tenant = in["tenant"].get<std::string>();
    if (in.contains("keys")) {
      change.kind = Invalidation::Kind::keys;
      change.keys = in["keys"].get<std::vector<std::string>>();
    } else if (in.contains("deps")) {
      change.kind = Invalidation::Kind::deps;
      change.deps = in["deps"].get<std::vector<std::string>>();
      change.version = in.at("version").get<std::string>();
    } else if (in.contains("flush")) {
      change.kind = Invalidation::Kind::flush;
      change.all_tenants = in.value("all_tenants", false);
    } else if (in.contains("tags")) {
      change.kind = Invalidation::Kind::selector;
      change.selector.tags = in["tags"].get<std::vector<std::string>>();
      change.selector.pattern = in.value("pattern", "");
      change.selector.layer = in.value("layer", "");
    } else {
      return std::nullopt;
    }
  } catch (const Json::exception&) {
    return std::nullopt;
  }
  return change;
}

} // namespace omnicache::daemon::tier
