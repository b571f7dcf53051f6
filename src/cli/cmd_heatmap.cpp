// `attnscope heatmap`: one head's attention pattern as a PNG/SVG/PDF figure; also the layer
// summary (--summary), the same head on several prompts (--compare) and the difference made by
// ablating heads (--ablate).
#include <iostream>

#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "attnscope/viz.h"
#include "cli/command.h"
#include "cli/options.h"
#include "cli/viz_common.h"

namespace attnscope::cli {
namespace {

struct HeatmapArgs {
  PatternSource src;
  FigureFlags fig;
  std::string out = "heatmap.png";
  int layer = 0, head = 0;
  bool summary = false, force = false;
  std::vector<std::string> compare;
  std::string ablate;  // "L.H" or "LxHy"
};

// "5.3" or "L5H3" -> (5, 3).
std::pair<int, int> parse_head(const std::string& s) {
  int l = -1, h = -1;
  char sep = 0;
  std::istringstream is(s[0] == 'L' || s[0] == 'l' ? s.substr(1) : s);
  if (!(is >> l >> sep >> h) || (sep != '.' && sep != 'H' && sep != 'h') || l < 0 || h < 0)
    fail(ErrorKind::InvalidArgument, "head '" + s + "': expected LAYER.HEAD (5.3) or L5H3");
  return {l, h};
}

int run_heatmap(const Common& common, const HeatmapArgs& a) {
  check_overwrite(a.out, a.force);
  FigureOptions opt = to_figure_options(a.fig);
  LoadedPatterns lp = load_patterns(common, a.src);
  auto it = lp.patterns.find(a.layer);
  if (it == lp.patterns.end())
    fail(ErrorKind::InvalidArgument, "layer " + std::to_string(a.layer) + " is not in the patterns (" +
                                         std::to_string(lp.patterns.size()) + " layers captured)");
  if (a.summary) {
    save_layer_summary(a.out, it->second, a.layer, lp.tokens, opt);
  } else if (!a.compare.empty()) {
    std::vector<Tensor> pats{it->second};
    std::vector<std::vector<std::string>> toks{lp.tokens};
    std::vector<std::string> titles{a.src.prompt};
    for (const auto& p : a.compare) {
      PatternSource other = a.src;
      other.prompt = p;
      LoadedPatterns o = load_patterns(common, other);
      if (!o.patterns.count(a.layer)) fail(ErrorKind::InvalidArgument, "layer missing for prompt '" + p + "'");
      pats.push_back(o.patterns.at(a.layer));
      toks.push_back(o.tokens);
      titles.push_back(p);
    }
    save_prompt_comparison(a.out, pats, toks, titles, a.layer, a.head, opt);
  } else if (!a.ablate.empty()) {
    if (!a.src.patterns_json.empty() || !a.src.synthetic.empty())
      fail(ErrorKind::InvalidArgument, "--ablate needs a model run (not --patterns or --synthetic)");
    const auto [al, ah] = parse_head(a.ablate);
    LoadOptions lo;
    lo.threads = common.threads;
    lo.tokenizer = common.tokenizer;
    const Model model = Model::load(model_or_default(common), lo);
    RunOptions run;
    run.capture = {hook_name(HookPoint::AttnPattern, a.layer)};
    run.return_logits = false;
    run.interventions.push_back(iv::zero_ablate_heads(al, {ah}));
    const Trace ablated = model.run(a.src.prompt, run);
    if (opt.title.empty())
      opt.title = head_label(a.layer, a.head, opt.notation) + ": normal \xE2\x88\x92 with " +
                  head_label(al, ah, opt.notation) + " ablated";
    save_difference(a.out, it->second, ablated.attention_patterns().at(a.layer), a.layer, a.head, lp.tokens, opt);
  } else {
    save_head_heatmap(a.out, it->second, a.layer, a.head, lp.tokens, opt);
  }
  if (common.json)
    std::cout << "{\"written\": [\"" << a.out << "\"]}\n";
  else
    std::cout << "wrote " << a.out << "\n";
  return 0;
}

const CommandRegistrar kHeatmap{{
    "heatmap",
    "draw one head's attention pattern (PNG, SVG or PDF by extension)",
    [](CLI::App& sub, Common& common) {
      auto args = std::make_shared<HeatmapArgs>();
      add_common_options(sub, common);
      add_pattern_source_options(sub, args->src, "The cat sat on the mat. The cat", /*with_layers=*/false);
      add_figure_options(sub, args->fig);
      add_output_option(sub, args->out, "output file: .png, .svg or .pdf")->capture_default_str();
      sub.add_option("-l,--layers,--layer", args->layer, "the layer to draw (one)")->capture_default_str();
      sub.add_option("--head", args->head, "head")->capture_default_str();
      sub.add_flag("--summary", args->summary, "mean and max over the layer's heads instead of one head");
      sub.add_option("--compare", args->compare, "a further prompt: the same head on each, side by side (repeatable)");
      sub.add_option("--ablate", args->ablate, "difference view: the pattern minus the pattern with head L.H zeroed");
      sub.add_flag("--force", args->force, "overwrite an existing file not written by attnscope");
      return [&common, args]() { return run_heatmap(common, *args); };
    },
}};

}  // namespace
}  // namespace attnscope::cli
