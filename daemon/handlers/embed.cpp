// embed_text: the configured embedder, called so that a slow one never
// holds up the connection's thread.
#include "daemon/handlers/handler.hpp"

#include <boost/asio/post.hpp>

namespace omnicache::daemon {

void
embed_text(Context& context, std::string text, std::function<void(Embedded)> done)
{
  auto& embedder = context.shared.embedder;
  std::vector<std::string> texts;
  texts.push_back(std::move(text));
  embedder.embed(std::move(texts), [&embedder, &metrics = context.shared.metrics,
                                    executor = context.connection->executor,
                                    local = embedder.local(), done = std::move(done)](Embeddings result) mutable {
    Embedded out;
    out.embedder = embedder.version();
    if (!result.error.empty() || result.vectors.size() != 1) {
      ++metrics.embed_failures;
      out.warning = result.error.empty() ? "the embedder returned no vector" : std::move(result.error);
    } else {
      out.vector = std::move(result.vectors.front());
    }
    if (local) {
      done(std::move(out));
      return;
    }
    boost::asio::post(executor, [done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
  });
}

} // namespace omnicache::daemon
