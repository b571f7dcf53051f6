// How a subcommand plugs into the `attnscope` command: each cmd_*.cpp defines one static
// CommandRegistrar, so adding a command never touches main.cpp.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace attnscope::cli {

// Options every command shares.
struct Common {
  std::string model;           // -m; empty means the built-in toy model
  std::string tokenizer;       // --tokenizer: another tokenizer source for checkpoints without one
  int threads = 0;             // -t
  std::string dtype = "auto";  // --dtype: compute precision (LoadOptions::dtype)
  bool mmap = false;           // --mmap: map the weights instead of reading them (LoadOptions::mmap)
  bool json = false;           // --json
};

struct CommandSpec {
  std::string name;
  std::string help;
  // Adds the command's options to `sub`; returns the function that runs it (exit code).
  std::function<std::function<int()>(CLI::App& sub, Common& common)> setup;
};

std::vector<CommandSpec>& registry();
struct CommandRegistrar {
  explicit CommandRegistrar(CommandSpec spec) { registry().push_back(std::move(spec)); }
};

// Adds -m/--model, -t/--threads and --json to a subcommand.
void add_common_options(CLI::App& sub, Common& common, bool with_model = true);
// The model path a command should load: -m, or the toy model when -m was not given.
std::string model_or_default(const Common& common);

}  // namespace attnscope::cli
