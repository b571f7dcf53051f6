// Shared by the figure and explorer commands (heatmap, grid, explore): getting patterns and
// tokens (from a model run, a JSON file or synthetic data) and the overwrite rule for outputs.
#pragma once
#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

#include "attnscope/tensor.h"
#include "attnscope/viz.h"
#include "cli/command.h"

namespace attnscope::cli {

// Where patterns come from: -m and the positional text (a model run), --patterns FILE.json, or
// --synthetic T,L,H.
struct PatternSource {
  std::string prompt;
  std::string patterns_json;
  std::string synthetic;                           // "tokens,layers,heads"
  std::vector<int> layers;                         // restrict the run to these layers (empty: all)
  const CLI::Option* deprecated_prompt = nullptr;  // -p, warned about when used
};
// The positional text (default_prompt when absent), the deprecated -p alias, --patterns,
// --synthetic and, with_layers, -l/--layers.
void add_pattern_source_options(CLI::App& sub, PatternSource& src, const std::string& default_prompt,
                                bool with_layers = true);

struct LoadedPatterns {
  std::map<int, Tensor> patterns;  // layer -> [B, H, Q, K]
  std::vector<std::string> tokens;
  std::vector<int32_t> ids;  // empty unless from a model run
  std::string model_name;    // what to show as the source
};
LoadedPatterns load_patterns(const Common& common, const PatternSource& src);

// The overwrite rule: a missing file, or one attnscope wrote (is_attnscope_output), may be
// written; anything else needs --force. InvalidArgument otherwise.
void check_overwrite(const std::string& path, bool force);

// Figure options shared by heatmap and grid.
struct FigureFlags {
  std::string colormap = "Blues";
  bool mask_upper = false;
  double vmin = NAN, vmax = NAN;
  std::string notation = "LH";
  std::string title;
};
void add_figure_options(CLI::App& sub, FigureFlags& f);
FigureOptions to_figure_options(const FigureFlags& f);

}  // namespace attnscope::cli
