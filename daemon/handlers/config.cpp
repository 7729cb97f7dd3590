#include "daemon/handlers/typed.hpp"

#include <cstring>
#include <unistd.h>

extern char** environ;

namespace omnicache::daemon {

using protocol::Json;

namespace {

// The names (not the values: they may hold secrets) of the OMNICACHE_*
// variables the daemon was started with, which a reload reads again.
std::vector<std::string>
config_environment_names()
{
  std::vector<std::string> names;
  for (char** variable = environ; *variable != nullptr; ++variable) {
    const char* equals = std::strchr(*variable, '=');
    if (std::strncmp(*variable, "OMNICACHE_", 10) == 0 && equals != nullptr) {
      names.push_back(std::string(*variable, static_cast<std::size_t>(equals - *variable)));
    }
  }
  return names;
}

} // namespace

protocol::ops::ConfigReply
handle_config(Context& context, const protocol::ops::ConfigRequest&)
{
  const auto config = context.shared.config();
  protocol::ops::ConfigReply reply;
  reply.file = config->file();
  reply.file_exists = config->file_exists();
  reply.environment = config_environment_names();
  for (const auto& shown : config->show()) {
    const auto* spec = protocol::find_setting(shown.key);
    reply.settings[shown.key] = {{"value", shown.value},
                           {"origin", std::string(protocol::origin_name(shown.origin))},
                           {"where", shown.where.empty() ? Json(nullptr) : Json(shown.where)},
                           {"live", spec == nullptr || spec->live}};
  }
  return reply;
}

} // namespace omnicache::daemon
