#pragma once

#include "cli/completion/model.hpp"

#include <string>
#include <vector>

// The completion scripts, one per shell, each a pure function of the model:
// the same definitions always give the same script.
namespace omnicache::cli::completion {

std::string bash_script(const std::vector<CommandModel>& commands);
std::string zsh_script(const std::vector<CommandModel>& commands);
std::string fish_script(const std::vector<CommandModel>& commands);

} // namespace omnicache::cli::completion
