#pragma once

#include "daemon/embedder.hpp"
#include "protocol/config.hpp"

#include <memory>

namespace omnicache::daemon {

// The embedder `semantic.embedder` names, set up from the other semantic
// settings. Throws protocol::Error (bad_request) when it cannot be used (a
// bad URL): the daemon does not start.
std::unique_ptr<Embedder> make_embedder(const protocol::Settings& settings);

} // namespace omnicache::daemon
