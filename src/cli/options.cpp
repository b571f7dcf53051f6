// The shared options of the command-line grammar (see options.h).
#include "cli/options.h"

#include <iostream>
#include <sstream>

namespace attnscope::cli {

CLI::Option* add_text_argument(CLI::App& sub, std::string& text, const std::string& help, bool required) {
  CLI::Option* o = sub.add_option("text", text, help);
  if (required) o->required();
  return o;
}

CLI::Option* add_deprecated_prompt_option(CLI::App& sub, std::string& text) {
  return sub.add_option("-p,--prompt", text, "deprecated: pass the text as the positional argument");
}

void warn_deprecated_prompt(const CLI::Option* prompt_option) {
  if (prompt_option && prompt_option->count() > 0)
    std::cerr << "attnscope: warning: -p/--prompt is deprecated; pass the text as the positional argument\n";
}

CLI::Option* add_layers_option(CLI::App& sub, std::vector<int>& layers, const std::string& help) {
  // One argument, "0,2,5", parsed here so that a bad item is named in the error.
  return sub
      .add_option_function<std::string>(
          "-l,--layers",
          [&layers](const std::string& list) {
            layers.clear();
            std::string item;
            std::istringstream in(list);
            while (std::getline(in, item, ',')) {
              size_t used = 0;
              int v = -1;
              try {
                v = std::stoi(item, &used);
              } catch (const std::exception&) {
                used = 0;
              }
              if (used == 0 || used != item.size() || v < 0)
                throw CLI::ValidationError("--layers", "'" + item + "' is not a layer number (expected e.g. 0,2,5)");
              layers.push_back(v);
            }
          },
          help)
      ->type_name("L[,L...]");
}

CLI::Option* add_output_option(CLI::App& sub, std::string& path, const std::string& help) {
  return sub.add_option("-o,--output", path, help);
}

void add_ids_options(CLI::App& sub, std::string& ids, bool& no_bos) {
  sub.add_option("--ids", ids, "token ids to use instead of text (\"1,2,3\")");
  sub.add_flag("--no-bos", no_bos, "do not prepend BOS");
}

}  // namespace attnscope::cli
