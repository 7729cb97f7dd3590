#pragma once

#include "store/semantic/lexical.hpp"

#include <functional>
#include <string>
#include <vector>

// What turns a question into a vector for semantic matching. The daemon has
// one, chosen by `[semantic] embedder`: the offline lexical embedder, or a
// remote one (an OpenAI-compatible /v1/embeddings endpoint).
namespace omnicache::daemon {

struct Embeddings
{
  std::vector<std::vector<float>> vectors; // one per text, L2-normalised, in order
  std::string error;                       // not empty: no vectors, and why
};

class Embedder
{
public:
  using Done = std::function<void(Embeddings)>;

  virtual ~Embedder() = default;

  // Names the embedder, its model and its parameters. Vectors are compared
  // only with vectors of the same version (it is part of an entry's scope).
  virtual const std::string& version() const = 0;

  // True when embed() answers at once on the calling thread and costs
  // little: its vectors are not worth keeping in the embedding layer.
  virtual bool local() const = 0;

  // The model a remote embedder's vectors are kept under in the embedding
  // layer (`omnicache embedding get --model`).
  virtual const std::string& model() const { return version(); }

  // The length of its vectors once known, else 0. A kept vector of another
  // length is not used.
  virtual std::size_t dimensions() const { return 0; }

  // Embeds `texts`. `done` is called exactly once: before embed() returns
  // for a local embedder, later and on another thread for a remote one.
  // Must not throw.
  virtual void embed(std::vector<std::string> texts, Done done) = 0;
};

// The default: store/semantic/lexical.hpp behind the Embedder interface.
class LexicalEmbedderAdapter final : public Embedder
{
public:
  explicit LexicalEmbedderAdapter(store::semantic::LexicalConfig config)
    : m_embedder(config)
  {
  }

  const std::string& version() const override { return m_embedder.version(); }
  bool local() const override { return true; }
  void embed(std::vector<std::string> texts, Done done) override
  {
    Embeddings out;
    out.vectors.reserve(texts.size());
    for (const auto& text : texts) {
      out.vectors.push_back(m_embedder.embed(text));
    }
    done(std::move(out));
  }

private:
  store::semantic::LexicalEmbedder m_embedder;
};

} // namespace omnicache::daemon
