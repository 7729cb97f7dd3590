// omnicache-semantic-quality: how often semantic matching with the lexical
// embedder answers a question with the right entry, the wrong one, or none,
// for a range of thresholds, with the false-hit guard off and on.
//
//   omnicache-semantic-quality --data DIR [--json] [--candidates K] [--dim N] [--examples N]
//
// DIR holds evaluation data, read in place and never copied:
//   gptcache_mock_data.json  [{"origin", "similar"}...] positive pairs (the
//       GPTCache benchmark): every origin is in the cache, each similar is a
//       query; a hit on its own origin is a true hit, on another a false hit
//   paws_wiki_final_dev.tsv  id \t sentence1 \t sentence2 \t label, no header
//       (PAWS-Wiki): pairwise, sentence1 is cached and sentence2 asked; a hit
//       on label 1 (paraphrase) is a true hit, on label 0 a false hit
// A query is answered by the best-scoring of its K nearest entries (default
// 3) that reaches the threshold and, with the guard on, that check_guard()
// accepts.
#include "protocol/error.hpp"
#include "store/semantic/guard.hpp"
#include "store/semantic/lexical.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sem = omnicache::store::semantic;
using omnicache::protocol::Error;
using omnicache::protocol::ErrorCode;
using Json = nlohmann::ordered_json;

namespace {

struct Options
{
  std::filesystem::path data;
  bool json = false;
  std::size_t candidates = 3;
  std::size_t dim = sem::LexicalConfig{}.dim;
  std::size_t examples = 0;
};

struct Pair
{
  std::string cached;
  std::string query;
  bool paraphrase = true;
};

std::string
read_file(const std::filesystem::path& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::io, path.string() + ": cannot open");
  }
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

std::vector<Pair>
load_gptcache(const std::filesystem::path& path)
{
  const Json json = Json::parse(read_file(path), nullptr, false);
  if (!json.is_array()) {
    throw Error(ErrorCode::bad_file, path.string() + ": not a JSON array");
  }
  std::vector<Pair> pairs;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const Json& item = json[i];
    if (!item.is_object() || !item.contains("origin") || !item["origin"].is_string() || !item.contains("similar") ||
        !item["similar"].is_string()) {
      throw Error(ErrorCode::bad_file,
                  fmt::format("{}: item {} lacks string fields origin and similar", path.string(), i));
    }
    pairs.push_back({item["origin"].get<std::string>(), item["similar"].get<std::string>(), true});
  }
  return pairs;
}

std::vector<Pair>
load_paws(const std::filesystem::path& path)
{
  std::istringstream in(read_file(path));
  std::vector<Pair> pairs;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty()) {
      continue;
    }
    std::vector<std::string> fields;
    for (std::size_t start = 0;;) {
      const auto tab = line.find('\t', start);
      fields.push_back(line.substr(start, tab - start));
      if (tab == std::string::npos) {
        break;
      }
      start = tab + 1;
    }
    if (fields.size() != 4 || (fields[3] != "0" && fields[3] != "1")) {
      throw Error(ErrorCode::bad_file,
                  fmt::format("{}:{}: expected id, sentence1, sentence2 and label 0 or 1, tab-separated",
                              path.string(), number));
    }
    pairs.push_back({fields[1], fields[2], fields[3] == "1"});
  }
  return pairs;
}

// ---- counting ----------------------------------------------------------------

struct Tally
{
  std::size_t queries = 0;
  std::size_t positives = 0; // queries that have a right answer in the cache
  std::size_t negatives = 0; // queries for which any hit is a false hit
  std::size_t true_hits = 0;
  std::size_t false_hits = 0;

  std::size_t hits() const { return true_hits + false_hits; }
  Tally& operator+=(const Tally& other)
  {
    queries += other.queries;
    positives += other.positives;
    negatives += other.negatives;
    true_hits += other.true_hits;
    false_hits += other.false_hits;
    return *this;
  }
};

double
ratio(std::size_t a, std::size_t b)
{
  return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
}

struct Setting
{
  float threshold;
  bool guard;
  bool is_default = false;
};

struct Row
{
  std::string dataset;
  Setting setting;
  Tally tally;
};

// What a query may be answered with: the K best entries, best first, with
// their score and the guard's verdict.
struct Candidate
{
  std::size_t entry;
  float score;
  sem::GuardVerdict verdict;
};

const Candidate*
answer(const std::vector<Candidate>& candidates, const Setting& setting)
{
  for (const Candidate& candidate : candidates) {
    if (candidate.score < setting.threshold) {
      break;
    }
    if (!setting.guard || candidate.verdict.accept) {
      return &candidate;
    }
  }
  return nullptr;
}

std::vector<std::vector<float>>
embed_all(const sem::LexicalEmbedder& embedder, const std::vector<Pair>& pairs, bool cached)
{
  std::vector<std::vector<float>> out;
  out.reserve(pairs.size());
  for (const Pair& pair : pairs) {
    out.push_back(embedder.embed(cached ? pair.cached : pair.query));
  }
  return out;
}

// Every query against every cached entry.
std::vector<std::vector<Candidate>>
rank_all(const sem::LexicalEmbedder& embedder, const std::vector<Pair>& pairs, std::size_t k)
{
  const auto entries = embed_all(embedder, pairs, true);
  const auto queries = embed_all(embedder, pairs, false);
  std::vector<std::vector<Candidate>> ranked(pairs.size());
  std::vector<std::size_t> order(entries.size());
  std::vector<float> scores(entries.size());
  for (std::size_t q = 0; q < queries.size(); ++q) {
    for (std::size_t e = 0; e < entries.size(); ++e) {
      scores[e] = sem::cosine(queries[q], entries[e]);
    }
    std::iota(order.begin(), order.end(), 0);
    const std::size_t n = std::min(k, order.size());
    // Best first; equal scores in entry order, so that runs agree.
    const auto better = [&](std::size_t a, std::size_t b) {
      return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
    };
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(), better);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t e = order[i];
      ranked[q].push_back({e, scores[e], sem::check_guard(pairs[q].query, pairs[e].cached)});
    }
  }
  return ranked;
}

// Each query against its own pair only.
std::vector<std::vector<Candidate>>
rank_pairwise(const sem::LexicalEmbedder& embedder, const std::vector<Pair>& pairs)
{
  std::vector<std::vector<Candidate>> ranked;
  ranked.reserve(pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const float score = sem::cosine(embedder.embed(pairs[i].query), embedder.embed(pairs[i].cached));
    ranked.push_back({{i, score, sem::check_guard(pairs[i].query, pairs[i].cached)}});
  }
  return ranked;
}

Tally
count(const std::vector<Pair>& pairs, const std::vector<std::vector<Candidate>>& ranked, const Setting& setting,
      bool pairwise)
{
  Tally tally;
  for (std::size_t q = 0; q < pairs.size(); ++q) {
    ++tally.queries;
    // Pairwise, a label-0 query has no right answer; against the whole cache
    // every query has one (its own entry) and can also hit a wrong one.
    const bool answerable = pairs[q].paraphrase;
    tally.positives += answerable ? 1 : 0;
    tally.negatives += (!pairwise || !answerable) ? 1 : 0;
    if (const Candidate* hit = answer(ranked[q], setting)) {
      const bool right = hit->entry == q && answerable;
      tally.true_hits += right ? 1 : 0;
      tally.false_hits += right ? 0 : 1;
    }
  }
  return tally;
}

// Per guard rule: candidates at or above the threshold it turned away that
// would have been a wrong answer, and that would have been the right one.
using Rejections = std::map<std::string, std::pair<std::size_t, std::size_t>, std::less<>>;

void
count_rejections(const std::vector<Pair>& pairs, const std::vector<std::vector<Candidate>>& ranked, float threshold,
                 Rejections& out)
{
  for (std::size_t q = 0; q < pairs.size(); ++q) {
    for (const Candidate& candidate : ranked[q]) {
      if (candidate.score < threshold || candidate.verdict.accept) {
        break;
      }
      auto& [wrong, right] = out[std::string(candidate.verdict.rule)];
      ++(candidate.entry == q && pairs[q].paraphrase ? right : wrong);
    }
  }
}

// ---- output ------------------------------------------------------------------

Json
row_json(const Row& row)
{
  const Tally& t = row.tally;
  return Json{
    {"dataset", row.dataset},
    {"threshold", std::round(row.setting.threshold * 1000.0) / 1000.0},
    {"guard", row.setting.guard},
    {"default", row.setting.is_default},
    {"queries", t.queries},
    {"positives", t.positives},
    {"negatives", t.negatives},
    {"hits", t.hits()},
    {"true_hits", t.true_hits},
    {"false_hits", t.false_hits},
    {"precision", ratio(t.true_hits, t.hits())},
    {"recall", ratio(t.true_hits, t.positives)},
    {"false_hit_share", ratio(t.false_hits, t.hits())},
    {"false_hit_rate", ratio(t.false_hits, t.negatives)},
  };
}

void
print_rows(const std::vector<Row>& rows, const std::string& dataset)
{
  fmt::print("\n{}\n", dataset);
  fmt::print("  {:>9} {:>5} {:>6} {:>6} {:>6} {:>9} {:>7} {:>11} {:>10}\n", "threshold", "guard", "hits", "true",
             "false", "precision", "recall", "false/hits", "false/neg");
  for (const Row& row : rows) {
    if (row.dataset != dataset) {
      continue;
    }
    const Tally& t = row.tally;
    fmt::print("  {:>9.2f} {:>5} {:>6} {:>6} {:>6} {:>8.1f}% {:>6.1f}% {:>10.2f}% {:>9.2f}%{}\n", row.setting.threshold,
               row.setting.guard ? "on" : "off", t.hits(), t.true_hits, t.false_hits,
               100 * ratio(t.true_hits, t.hits()), 100 * ratio(t.true_hits, t.positives),
               100 * ratio(t.false_hits, t.hits()), 100 * ratio(t.false_hits, t.negatives),
               row.setting.is_default ? "  <- default" : "");
  }
}

// CPU time, so that other work on the machine does not count.
double
cpu_micros()
{
  return static_cast<double>(std::clock()) * 1e6 / CLOCKS_PER_SEC;
}

// Microseconds of CPU per embedding of a 100-word text made of the data.
double
embedding_speed(const sem::LexicalEmbedder& embedder, const std::vector<Pair>& pairs)
{
  std::string text;
  std::size_t words = 0;
  for (std::size_t i = 0; words < 100 && i < pairs.size(); ++i) {
    sem::for_each_word(pairs[i].cached, [&](std::string_view word, std::size_t) {
      if (words++ < 100) {
        text += word;
        text += ' ';
      }
    });
  }
  std::vector<float> out(embedder.dim());
  constexpr int rounds = 20000;
  float sink = 0;
  const double start = cpu_micros();
  for (int i = 0; i < rounds; ++i) {
    embedder.embed(text, out);
    sink += out[static_cast<std::size_t>(i) % out.size()];
  }
  const double elapsed = cpu_micros() - start;
  return sink == 12345.0f ? 0 : elapsed / rounds;
}

// Microseconds of CPU per check_guard() of a pair of the data.
double
guard_speed(const std::vector<Pair>& pairs)
{
  const std::size_t n = std::min<std::size_t>(pairs.size(), 2000);
  std::size_t accepted = 0;
  const double start = cpu_micros();
  for (std::size_t i = 0; i < n; ++i) {
    accepted += sem::check_guard(pairs[i].query, pairs[i].cached).accept ? 1 : 0;
  }
  const double elapsed = cpu_micros() - start;
  return accepted > n ? 0 : elapsed / static_cast<double>(std::max<std::size_t>(n, 1));
}

void
print_examples(const std::vector<Pair>& pairs, const std::vector<std::vector<Candidate>>& ranked,
               const Setting& setting, std::size_t limit)
{
  std::size_t false_hits = 0;
  std::size_t misses = 0;
  for (std::size_t q = 0; q < pairs.size(); ++q) {
    const Candidate* hit = answer(ranked[q], setting);
    const bool right = hit != nullptr && hit->entry == q && pairs[q].paraphrase;
    if (hit != nullptr && !right && false_hits < limit) {
      ++false_hits;
      fmt::print("false hit {:.3f}\n  query:  {}\n  cached: {}\n", hit->score, pairs[q].query,
                 pairs[hit->entry].cached);
    } else if (hit == nullptr && pairs[q].paraphrase && misses < limit && !ranked[q].empty() &&
               ranked[q].front().entry == q && ranked[q].front().score >= setting.threshold) {
      ++misses;
      fmt::print("guarded miss {:.3f} ({})\n  query:  {}\n  cached: {}\n", ranked[q].front().score,
                 ranked[q].front().verdict.reason, pairs[q].query, pairs[q].cached);
    }
  }
}

struct Report
{
  std::string embedder;
  std::size_t candidates = 0;
  std::vector<Row> rows;
  Rejections rejections; // at the default
  double embed_micros = 0;
  double guard_micros = 0;
};

std::vector<Setting>
settings()
{
  std::vector<Setting> out;
  for (const bool guard : {false, true}) {
    for (int hundredths = 80; hundredths <= 99; hundredths += hundredths < 98 ? 2 : 1) {
      out.push_back({static_cast<float>(hundredths) / 100.0f, guard});
    }
  }
  out.push_back({sem::k_lexical_default_threshold, true, true});
  return out;
}

void
print_json(const Report& report)
{
  Json out{{"embedder", report.embedder},
           {"candidates", report.candidates},
           {"default_threshold", std::round(sem::k_lexical_default_threshold * 1000.0) / 1000.0},
           {"embed_100_words_us", report.embed_micros},
           {"guard_pair_us", report.guard_micros},
           {"rows", Json::array()},
           {"rejections_at_default", Json::object()}};
  for (const Row& row : report.rows) {
    out["rows"].push_back(row_json(row));
  }
  for (const auto& [rule, counts] : report.rejections) {
    out["rejections_at_default"][rule] = Json{{"wrong", counts.first}, {"right", counts.second}};
  }
  fmt::print("{}\n", out.dump(2));
}

void
print_human(const Report& report)
{
  fmt::print("embedder {}, {} candidates per query, default threshold {:.2f} with the guard\n", report.embedder,
             report.candidates, sem::k_lexical_default_threshold);
  fmt::print("CPU time: {:.1f} us to embed a 100-word text, {:.1f} us per guard check of a PAWS pair\n",
             report.embed_micros, report.guard_micros);
  fmt::print("false/neg: false hits per query that can only be answered wrongly (PAWS label 0; for\n"
             "GPTCache every query, since any other origin is a wrong answer)\n");
  for (const char* dataset : {"gptcache", "paws", "combined"}) {
    print_rows(report.rows, dataset);
  }
  fmt::print("\nguard rejections at the default threshold, both datasets (a candidate turned away\n"
             "that would have been a wrong answer / the right one)\n");
  for (const auto& [rule, counts] : report.rejections) {
    fmt::print("  {:<9} {:>6} wrong {:>6} right\n", rule, counts.first, counts.second);
  }
}

int
run(const Options& options)
{
  const sem::LexicalEmbedder embedder(sem::LexicalConfig{options.dim});
  const auto gptcache = load_gptcache(options.data / "gptcache_mock_data.json");
  const auto paws = load_paws(options.data / "paws_wiki_final_dev.tsv");
  const auto gptcache_ranked = rank_all(embedder, gptcache, options.candidates);
  const auto paws_ranked = rank_pairwise(embedder, paws);

  Report report{embedder.version(), options.candidates, {}, {}, 0, 0};
  for (const Setting& setting : settings()) {
    const Tally g = count(gptcache, gptcache_ranked, setting, false);
    const Tally p = count(paws, paws_ranked, setting, true);
    Tally both = g;
    both += p;
    report.rows.push_back({"gptcache", setting, g});
    report.rows.push_back({"paws", setting, p});
    report.rows.push_back({"combined", setting, both});
  }
  count_rejections(gptcache, gptcache_ranked, sem::k_lexical_default_threshold, report.rejections);
  count_rejections(paws, paws_ranked, sem::k_lexical_default_threshold, report.rejections);
  report.embed_micros = embedding_speed(embedder, gptcache);
  report.guard_micros = guard_speed(paws);

  if (options.json) {
    print_json(report);
    return 0;
  }
  print_human(report);
  if (options.examples > 0) {
    const Setting setting{sem::k_lexical_default_threshold, true, true};
    fmt::print("\ngptcache at the default\n");
    print_examples(gptcache, gptcache_ranked, setting, options.examples);
    fmt::print("\npaws at the default\n");
    print_examples(paws, paws_ranked, setting, options.examples);
  }
  return 0;
}

} // namespace

int
main(int argc, char** argv)
{
  Options options;
  CLI::App app("Hit quality of semantic matching with the lexical embedder and the false-hit guard",
               "omnicache-semantic-quality");
  app.add_option("--data", options.data, "folder with gptcache_mock_data.json and paws_wiki_final_dev.tsv")
    ->required()
    ->check(CLI::ExistingDirectory);
  app.add_flag("--json", options.json, "machine-readable output");
  app.add_option("--candidates", options.candidates, "nearest entries a query may be answered with")
    ->capture_default_str()
    ->check(CLI::Range(1, 1000));
  app.add_option("--dim", options.dim, "embedding dimension")->capture_default_str();
  app.add_option("--examples", options.examples, "print up to N false hits and N guarded misses at the default");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "omnicache-semantic-quality: {}\n", e.what());
    return 1;
  }
}
