// The one command-line grammar every attnscope command follows (issue 13). Commands build their
// options from these helpers so that the same flag means the same thing everywhere:
//
//   text            positional: the text to run (every command that runs text)
//   -m, --model     model (common, see command.h)      -t, --threads   threads (common)
//   --json          JSON on stdout (common)             --tokenizer     tokenizer override (common)
//   -l, --layers    layer selection ("0,2,5")           -o, --output    the file to write
//   --ids           token ids instead of text           --no-bos        do not prepend BOS
//   --force         replace a file attnscope did not write
//
// A short flag not listed here belongs to one command only (e.g. `-k` of ablate, `-n` of
// generate) and must not be given another meaning by a new command.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace attnscope::cli {

// The positional text. required: the command cannot run without it. Returns the option so a
// command can check whether it was given (`->count()`).
CLI::Option* add_text_argument(CLI::App& sub, std::string& text, const std::string& help, bool required = false);
// `-p, --prompt`: the old spelling of the positional text in explore, heatmap and grid, kept as
// a deprecated alias; warn_deprecated_prompt() prints the one-line notice when it was used.
CLI::Option* add_deprecated_prompt_option(CLI::App& sub, std::string& text);
void warn_deprecated_prompt(const CLI::Option* prompt_option);
// -l/--layers "0,2,5" (also repeatable).
CLI::Option* add_layers_option(CLI::App& sub, std::vector<int>& layers, const std::string& help);
// -o/--output FILE.
CLI::Option* add_output_option(CLI::App& sub, std::string& path, const std::string& help);
// --ids "1,2,3" and --no-bos, for commands that run text or ids.
void add_ids_options(CLI::App& sub, std::string& ids, bool& no_bos);

}  // namespace attnscope::cli
