// The attnscope command: parses the subcommand, runs it, and turns errors into one clear line.
#include <iostream>
#include <memory>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "cli/command.h"
#include "cli/exit_codes.h"
#include "cli/suggest.h"

namespace attnscope::cli {

std::vector<CommandSpec>& registry() {
  static std::vector<CommandSpec> commands;
  return commands;
}

void add_common_options(CLI::App& sub, Common& common, bool with_model) {
  if (with_model) {
    sub.add_option("-m,--model", common.model,
                   "GGUF file, checkpoint directory, hub name or attnscope:toy (default: attnscope:toy)");
    sub.add_option("--tokenizer", common.tokenizer,
                   "tokenizer to use instead of the model's (tokenizer.json, a directory, a GGUF, ...)");
    sub.add_option("--dtype", common.dtype,
                   "compute precision: float32 (exact), bfloat16 (weights as stored, fast), auto (default: "
                   "float32 up to 1 GiB of float32 weights)")
        ->check(CLI::IsMember({"auto", "float32", "bfloat16"}));
    sub.add_flag("--mmap", common.mmap,
                 "map the model file instead of reading its weights into memory: opens at once and shares "
                 "pages with other processes (on some virtual machines threads then scale worse)");
  }
  sub.add_option("-t,--threads", common.threads, "threads (default: all cores)")->check(CLI::NonNegativeNumber);
  sub.add_flag("--json", common.json, "machine-readable JSON output");
}

std::string model_or_default(const Common& common) {
  return common.model.empty() ? std::string("attnscope:toy") : common.model;
}

}  // namespace attnscope::cli

int main(int argc, char** argv) {
  using namespace attnscope::cli;
  CLI::App app{"attnscope: see what the attention heads of transformer language models do"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "attnscope 0.1.0");
  app.footer(kExitCodeHelp);
  Common common;
  std::function<int()> run;
  auto& commands = registry();
  std::sort(commands.begin(), commands.end(),
            [](const CommandSpec& a, const CommandSpec& b) { return a.name < b.name; });
  for (auto& spec : commands) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.help);
    sub->footer(kExitCodeHelp);
    auto runner = spec.setup(*sub, common);
    // One grammar: a list option takes one value per occurrence (comma-separated where its items
    // allow, repeatable), so the positional text after it is never eaten as one more item.
    for (CLI::Option* opt : sub->get_options())
      if (!opt->get_positional()) opt->allow_extra_args(false);
    sub->callback([&run, runner]() { run = runner; });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help/version or the usage error
    if (code != 0)
      if (const std::string hint = suggest_for(app, argc, argv); !hint.empty()) std::cerr << hint << "\n";
    return code == 0 ? kExitOk : exit_code(attnscope::ErrorKind::InvalidArgument);
  }
  try {
    // The process default, for work outside a model run (models get --threads at load too).
    if (common.threads > 0) attnscope::set_num_threads(common.threads);
    return run ? run() : 0;
  } catch (const attnscope::Error& e) {
    std::cerr << "attnscope: error: " << e.what() << "\n";
    return exit_code(e.kind());
  } catch (const std::exception& e) {
    std::cerr << "attnscope: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
}
