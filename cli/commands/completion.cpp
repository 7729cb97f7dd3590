#include "cli/commands/command.hpp"
#include "cli/completion/scripts.hpp"

#include <fmt/core.h>

#include <memory>

namespace omnicache::cli {

namespace {

constexpr const char* k_completion_footer = R"(Load the completions into the running shell:
  bash:  source <(omnicache completion bash)
  zsh:   source <(omnicache completion zsh)     (after compinit)
  fish:  omnicache completion fish | source

Or keep them in a file the shell reads at start:
  omnicache completion bash > ~/.local/share/bash-completion/completions/omnicache
  omnicache completion zsh > "${fpath[1]}/_omnicache"
  omnicache completion fish > ~/.config/fish/completions/omnicache.fish

Packages install them where each shell finds them by itself: bash (with the
bash-completion package), zsh and fish complete omnicache with nothing to do.)";

} // namespace

void
add_completion(CLI::App& app, Globals& /*globals*/)
{
  auto* command = app.add_subcommand("completion", "Print the shell completion script for bash, zsh or fish");
  auto shell = std::make_shared<std::string>();
  command->add_option("shell", *shell, "The shell")->required()->type_name("SHELL")->check(
    CLI::IsMember({"bash", "fish", "zsh"}));
  command->footer(k_completion_footer);
  // The script describes the whole program, so it is made from the root of
  // the tree, complete by the time a command runs.
  command->callback([&app, shell] {
    const auto commands = completion::describe(app);
    if (*shell == "bash") {
      fmt::print("{}", completion::bash_script(commands));
    } else if (*shell == "zsh") {
      fmt::print("{}", completion::zsh_script(commands));
    } else {
      fmt::print("{}", completion::fish_script(commands));
    }
  });
}

} // namespace omnicache::cli
