// `attnscope grid`: many heads (layers x heads) in one figure; large selections are paged.
#include <iostream>

#include "attnscope/viz.h"
#include "cli/command.h"
#include "cli/options.h"
#include "cli/viz_common.h"

namespace attnscope::cli {
namespace {

struct GridArgs {
  PatternSource src;
  FigureFlags fig;
  std::string out = "grid.png";
  std::vector<int> heads;
  int per_page = 64;
  bool force = false;
};

int run_grid(const Common& common, const GridArgs& a) {
  check_overwrite(a.out, a.force);
  FigureOptions opt = to_figure_options(a.fig);
  opt.max_panels_per_page = a.per_page;
  LoadedPatterns lp = load_patterns(common, a.src);
  if (opt.title.empty()) opt.title = "Attention patterns: " + lp.model_name;
  const auto written = save_attention_grid(a.out, lp.patterns, lp.tokens, {}, a.heads, opt);
  if (common.json) {
    std::cout << "{\"written\": [";
    for (size_t i = 0; i < written.size(); ++i) std::cout << (i ? ", " : "") << "\"" << written[i] << "\"";
    std::cout << "]}\n";
  } else {
    for (const auto& w : written) std::cout << "wrote " << w << "\n";
  }
  return 0;
}

const CommandRegistrar kGrid{{
    "grid",
    "draw a grid of attention patterns, layers x heads (PNG, SVG or PDF)",
    [](CLI::App& sub, Common& common) {
      auto args = std::make_shared<GridArgs>();
      add_common_options(sub, common);
      add_pattern_source_options(sub, args->src, "The cat sat on the mat. The cat");
      add_figure_options(sub, args->fig);
      add_output_option(sub, args->out, "output file: .png, .svg or .pdf")->capture_default_str();
      sub.add_option("--heads", args->heads, "only these heads (default: all)")->delimiter(',');
      sub.add_option("--per-page", args->per_page, "panels per page; more go to further pages (PDF: one file)")
          ->check(CLI::PositiveNumber)
          ->capture_default_str();
      sub.add_flag("--force", args->force, "overwrite an existing file not written by attnscope");
      return [&common, args]() { return run_grid(common, *args); };
    },
}};

}  // namespace
}  // namespace attnscope::cli
