// Pattern sources and the overwrite rule for the figure and explorer commands (see viz_common.h).
#include "cli/viz_common.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/viz.h"
#include "cli/options.h"

namespace attnscope::cli {

void add_pattern_source_options(CLI::App& sub, PatternSource& src, const std::string& default_prompt,
                                bool with_layers) {
  src.prompt = default_prompt;
  add_text_argument(sub, src.prompt, "text to run through the model")->capture_default_str();
  src.deprecated_prompt = add_deprecated_prompt_option(sub, src.prompt);
  sub.add_option("--patterns", src.patterns_json,
                 "read patterns from a JSON file {\"tokens\": [...], \"patterns\": {\"<layer>\": [H][Q][K]}} "
                 "instead of running a model");
  sub.add_option("--synthetic", src.synthetic,
                 "use deterministic synthetic patterns of TOKENS,LAYERS,HEADS (for sizing and tests)");
  if (with_layers) add_layers_option(sub, src.layers, "only these layers (default: all)");
}

LoadedPatterns load_patterns(const Common& common, const PatternSource& src) {
  warn_deprecated_prompt(src.deprecated_prompt);
  LoadedPatterns out;
  if (!src.patterns_json.empty()) {
    PatternsFile f = read_patterns_json(src.patterns_json);
    out.patterns = std::move(f.patterns);
    out.tokens = std::move(f.tokens);
    out.model_name = src.patterns_json;
  } else if (!src.synthetic.empty()) {
    int t = 0, l = 0, h = 0;
    char c1 = 0, c2 = 0;
    std::istringstream is(src.synthetic);
    if (!(is >> t >> c1 >> l >> c2 >> h) || c1 != ',' || c2 != ',')
      fail(ErrorKind::InvalidArgument, "--synthetic '" + src.synthetic + "': expected TOKENS,LAYERS,HEADS");
    out.patterns = synthetic_patterns(t, l, h);
    out.tokens = synthetic_tokens(t);
    out.model_name = "synthetic " + std::to_string(t) + " tokens x " + std::to_string(l) + " layers x " +
                     std::to_string(h) + " heads";
  } else {
    if (src.prompt.empty()) fail(ErrorKind::InvalidArgument, "empty text");
    LoadOptions lo;
    lo.threads = common.threads;
    lo.tokenizer = common.tokenizer;
    const Model model = Model::load(model_or_default(common), lo);
    RunOptions run;
    run.capture = {hook_glob(HookPoint::AttnPattern)};
    run.layers = src.layers;
    run.return_logits = false;
    const Trace trace = model.run(src.prompt, run);
    out.patterns = trace.attention_patterns();
    out.ids = trace.tokens.empty() ? std::vector<int32_t>{} : trace.tokens[0];
    if (!trace.str_tokens.empty() && !trace.str_tokens[0].empty())
      out.tokens = trace.str_tokens[0];
    else
      for (int32_t id : out.ids) out.tokens.push_back("#" + std::to_string(id));
    out.model_name = model.config().name.empty() ? model.source() : model.config().name;
    return out;
  }
  if (!src.layers.empty()) {
    std::map<int, Tensor> keep;
    for (int l : src.layers) {
      auto it = out.patterns.find(l);
      if (it == out.patterns.end())
        fail(ErrorKind::InvalidArgument, "layer " + std::to_string(l) + " is not in the patterns");
      keep.emplace(l, it->second);
    }
    out.patterns = std::move(keep);
  }
  return out;
}

void check_overwrite(const std::string& path, bool force) {
  std::error_code ec;
  if (force || !std::filesystem::exists(path, ec)) return;
  if (std::filesystem::is_directory(path, ec)) fail(ErrorKind::InvalidArgument, "output '" + path + "' is a directory");
  if (!is_attnscope_output(path))
    fail(ErrorKind::InvalidArgument, "refusing to overwrite '" + path +
                                         "': it exists and was not written by attnscope (use --force to replace it)");
}

void add_figure_options(CLI::App& sub, FigureFlags& f) {
  sub.add_option("--colormap", f.colormap, "colormap name (Blues, Reds, viridis, magma, RdBu, ...)")
      ->capture_default_str();
  sub.add_flag("--mask-upper", f.mask_upper, "leave future positions (key after query) blank");
  sub.add_option("--vmin", f.vmin, "lower end of the colour range (default: 0 or the data minimum)");
  sub.add_option("--vmax", f.vmax, "upper end of the colour range (default: the data maximum)");
  sub.add_option("--notation", f.notation, "head titles: LH (L5H3) or dot (5.3)")
      ->check(CLI::IsMember({"LH", "dot"}))
      ->capture_default_str();
  sub.add_option("--title", f.title, "figure title (default: the head name)");
}

FigureOptions to_figure_options(const FigureFlags& f) {
  FigureOptions o;
  o.colormap = f.colormap;
  Colormap::by_name(o.colormap);  // fail early with the list of names
  o.mask_upper = f.mask_upper;
  if (!std::isnan(f.vmin)) o.vmin = f.vmin;
  if (!std::isnan(f.vmax)) o.vmax = f.vmax;
  o.notation = f.notation == "dot" ? HeadNotation::Dot : HeadNotation::LH;
  o.title = f.title;
  return o;
}

}  // namespace attnscope::cli
