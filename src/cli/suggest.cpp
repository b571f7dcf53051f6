// "did you mean" for the command line (see suggest.h).
#include "cli/suggest.h"

#include <algorithm>
#include <vector>

#include "attnscope/error.h"

namespace attnscope::cli {

namespace {

const CLI::App* find_command(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (sub->get_name() == name) return sub;
  return nullptr;
}

}  // namespace

std::string suggest_for(const CLI::App& app, int argc, const char* const* argv) {
  if (argc < 2 || argv[1][0] == '-') return "";
  const std::string word = argv[1];
  const CLI::App* command = find_command(app, word);
  if (!command) {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      names.push_back(sub->get_name());
    const std::string best = closest_match(word, names);
    return best.empty() ? "" : "attnscope: unknown command '" + word + "'; did you mean '" + best + "'?";
  }
  std::vector<std::string> flags;
  for (const CLI::Option* opt : command->get_options())
    for (const std::string& name : opt->get_lnames()) flags.push_back("--" + name);
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (!arg.starts_with("--")) continue;
    const std::string flag = arg.substr(0, arg.find('='));
    if (std::find(flags.begin(), flags.end(), flag) != flags.end()) continue;
    const std::string best = closest_match(flag, flags);
    if (!best.empty()) return "attnscope " + word + ": unknown flag '" + flag + "'; did you mean '" + best + "'?";
  }
  return "";
}

}  // namespace attnscope::cli
