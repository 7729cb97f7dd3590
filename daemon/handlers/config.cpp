#include "daemon/handlers/handler.hpp"

#include <cstring>
#include <unistd.h>

extern char** environ;

namespace omnicache::daemon {

using protocol::Json;

namespace {

// The names (not the values: they may hold secrets) of the OMNICACHE_*
// variables the daemon was started with, which a reload reads again.
Json
config_environment_names()
{
  Json names = Json::array();
  for (char** variable = environ; *variable != nullptr; ++variable) {
    const char* equals = std::strchr(*variable, '=');
    if (std::strncmp(*variable, "OMNICACHE_", 10) == 0 && equals != nullptr) {
      names.push_back(std::string(*variable, static_cast<std::size_t>(equals - *variable)));
    }
  }
  return names;
}

} // namespace

protocol::Reply
handle_config(Context& context, const protocol::Request& request)
{
  const auto config = context.shared.config();
  Json settings = Json::object();
  for (const auto& shown : config->show()) {
    const auto* spec = protocol::find_setting(shown.key);
    settings[shown.key] = {{"value", shown.value},
                           {"origin", std::string(protocol::origin_name(shown.origin))},
                           {"where", shown.where.empty() ? Json(nullptr) : Json(shown.where)},
                           {"live", spec == nullptr || spec->live}};
  }
  return ok_reply(request, {{"file", config->file()},
                            {"file_exists", config->file_exists()},
                            {"environment", config_environment_names()},
                            {"settings", std::move(settings)}});
}

} // namespace omnicache::daemon
