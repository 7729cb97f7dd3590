#pragma once

#include "protocol/ops/entries.hpp"

#include <optional>
#include <string>
#include <vector>

// Questions and their answers (PROTOCOL.md 5.16-5.18), and mset (5.15),
// whose entries are set's fields with a size.
namespace omnicache::protocol::ops {

// What names a question in semantic_set, semantic_get and semantic_reject.
struct SemanticSetRequest
{
  std::optional<std::string> tenant;
  std::optional<std::string> layer; // "semantic" when absent
  std::optional<std::string> model;
  std::string text;
  std::optional<std::string> context;
  std::optional<std::string> key; // required in layers response and run
  Json vector;                    // the client's embedding, or null
  std::vector<std::string> tags;
  Json deps;
  std::optional<std::int64_t> ttl_ms;
  Json meta;
  Payload value;
};
struct SemanticSetReply
{
  bool replaced = false;
  OptionalTime ttl_ms;
  std::string key;
  std::string embedder;
  bool indexed = false;
  std::optional<std::string> warning;
};

struct SemanticGetRequest
{
  std::optional<std::string> tenant;
  std::optional<std::string> layer;
  std::optional<std::string> model;
  std::string text;
  std::optional<std::string> context;
  std::optional<std::string> key;
  Json vector;
  Json threshold;             // a number from 0 to 1, or null for the setting
  std::optional<bool> guard;  // the setting when absent
};
struct SemanticGetReply
{
  bool found = false;
  std::optional<std::string> match;
  std::optional<double> similarity;
  std::optional<std::string> key;
  std::optional<Json> rejected;
  std::optional<std::string> warning;
  std::optional<std::string> layer;
  OptionalTime expires_ms;
  std::optional<Json> meta;
  std::optional<std::string> tier;
  std::string value;
};

struct SemanticRejectRequest
{
  std::optional<std::string> tenant;
  std::string key;
  std::string text;
  Json vector;
};
struct SemanticRejectReply
{
  std::string key;
  bool recorded = false;
};

struct MsetRequest
{
  std::optional<std::string> tenant;
  Json entries; // set's fields and `size`, each
  bool only_missing = false;
  bool only_present = false;
  Payload value; // the entries' values, concatenated
};
struct MsetReply
{
  std::uint64_t stored = 0;
  std::uint64_t skipped = 0;
};

template <>
struct Fields<SemanticSetRequest>
{
  using R = SemanticSetRequest;
  static constexpr auto fields =
    std::tuple{field("tenant", &R::tenant), field("layer", &R::layer), field("model", &R::model),
               field("text", &R::text),     field("context", &R::context), field("key", &R::key),
               field("vector", &R::vector), field("tags", &R::tags),   field("deps", &R::deps),
               field("ttl_ms", &R::ttl_ms), field("meta", &R::meta)};
};
template <>
struct Fields<SemanticSetReply>
{
  using R = SemanticSetReply;
  static constexpr auto fields =
    std::tuple{field("replaced", &R::replaced), field("ttl_ms", &R::ttl_ms),
               field("key", &R::key),       field("embedder", &R::embedder), field("indexed", &R::indexed),
               field("warning", &R::warning)};
};
template <>
struct Fields<SemanticGetRequest>
{
  using R = SemanticGetRequest;
  static constexpr auto fields =
    std::tuple{field("tenant", &R::tenant),  field("layer", &R::layer),   field("model", &R::model),
               field("text", &R::text),      field("context", &R::context), field("key", &R::key),
               field("vector", &R::vector),  field("threshold", &R::threshold), field("guard", &R::guard)};
};
template <>
struct Fields<SemanticGetReply>
{
  using R = SemanticGetReply;
  static constexpr auto fields =
    std::tuple{field("found", &R::found),     field("match", &R::match),     field("similarity", &R::similarity),
               field("key", &R::key),         field("rejected", &R::rejected), field("warning", &R::warning),
               field("layer", &R::layer),     field("expires_ms", &R::expires_ms), field("meta", &R::meta),
               field("tier", &R::tier)};
};
template <>
struct Fields<SemanticRejectRequest>
{
  using R = SemanticRejectRequest;
  static constexpr auto fields = std::tuple{field("tenant", &R::tenant), field("key", &R::key),
                                            field("text", &R::text), field("vector", &R::vector)};
};
template <>
struct Fields<SemanticRejectReply>
{
  static constexpr auto fields =
    std::tuple{field("key", &SemanticRejectReply::key), field("recorded", &SemanticRejectReply::recorded)};
};
template <>
struct Fields<MsetRequest>
{
  using R = MsetRequest;
  static constexpr auto fields = std::tuple{field("tenant", &R::tenant), field("entries", &R::entries),
                                            field("only_missing", &R::only_missing),
                                            field("only_present", &R::only_present)};
};
template <>
struct Fields<MsetReply>
{
  static constexpr auto fields = std::tuple{field("stored", &MsetReply::stored), field("skipped", &MsetReply::skipped)};
};

} // namespace omnicache::protocol::ops
