// `jetback completion bash` (completion.h).
#include "client/cli/completion.h"

#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli/output.h"

namespace jetback::cli {
namespace {

struct Node {
  std::string path;  // "sets list"; "" for the top level
  std::vector<std::string> commands;
  std::vector<std::string> flags;
  std::vector<std::string> value_flags;  // flags that take a value
};

void Collect(const CLI::App& app, const std::string& path,
             std::vector<Node>* nodes) {
  Node node;
  node.path = path;
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_positional()) continue;
    const bool takes_value = opt->get_items_expected_min() > 0;
    for (const std::string& name : opt->get_lnames()) {
      node.flags.push_back("--" + name);
      if (takes_value) node.value_flags.push_back("--" + name);
    }
    for (const std::string& name : opt->get_snames()) {
      node.flags.push_back("-" + name);
      if (takes_value) node.value_flags.push_back("-" + name);
    }
  }
  for (const CLI::App* sub : const_cast<CLI::App&>(app).get_subcommands({})) {
    node.commands.push_back(sub->get_name());
  }
  nodes->push_back(node);
  for (const CLI::App* sub : const_cast<CLI::App&>(app).get_subcommands({})) {
    Collect(*sub,
            path.empty() ? sub->get_name()
                         : absl::StrCat(path, " ", sub->get_name()),
            nodes);
  }
}

}  // namespace

std::string BashCompletion(const CLI::App& app) {
  std::vector<Node> nodes;
  Collect(app, "", &nodes);
  std::string cases;
  for (const Node& n : nodes) {
    absl::StrAppend(&cases, "    \"", n.path, "\") commands=\"",
                    absl::StrJoin(n.commands, " "), "\"; flags=\"",
                    absl::StrJoin(n.flags, " "), "\"; values=\"",
                    absl::StrJoin(n.value_flags, " "), "\";;\n");
  }
  return absl::StrCat(
      "# bash completion for jetback, from `jetback completion bash`.\n"
      "_jetback() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
      "  local path=\"\" commands flags values global i word\n"
      "  # The command path: each word naming a subcommand of the path so "
      "far.\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    word=${COMP_WORDS[i]}\n"
      "    _jetback_node \"$path\"\n"
      "    if [[ \" $commands \" == *\" $word \"* ]]; then\n"
      "      path=${path:+$path }$word\n"
      "    fi\n"
      "  done\n"
      "  _jetback_node \"\"\n"
      "  global=$values\n"
      "  _jetback_node \"$path\"\n"
      "  # After a flag that takes a value: file names.\n"
      "  if [[ \" $global $values \" == *\" $prev \"* ]]; then\n"
      "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
      "  elif [[ $cur == -* ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n"
      "  elif [[ -n $commands ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$commands\" -- \"$cur\"))\n"
      "  else\n"
      "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
      "  fi\n"
      "}\n"
      "_jetback_node() {\n"
      "  commands=\"\"; flags=\"\"; values=\"\"\n"
      "  case \"$1\" in\n",
      cases,
      "  esac\n"
      "}\n"
      "complete -F _jetback jetback\n");
}

void AddCompletionCommand(CLI::App& app, RunFn* run) {
  CLI::App* cmd = app.add_subcommand("completion",
                                     "Print a shell completion script (bash)");
  // The option writes into *shell while parsing: the callback holds it so
  // it lives as long as the command does.
  auto shell = std::make_shared<std::string>();
  cmd->add_option("shell", *shell, "Shell: bash")
      ->required()
      ->check(CLI::IsMember({"bash"}));
  cmd->callback([&app, run, shell] {
    *run = [&app] {
      std::fputs(BashCompletion(app).c_str(), stdout);
      return kExitOk;
    };
  });
}

}  // namespace jetback::cli
