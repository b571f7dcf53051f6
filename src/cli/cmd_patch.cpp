// `attnscope patch`: activation patching of a clean prompt into a corrupted one (TransformerLens'
// get_act_patch_* sweeps, patching.h) as a table, JSON, CSV and figures.
//
//   attnscope patch --clean "ABCDEFGABCDEF" --corrupted "ABCDXYGABCDEF" --target G --contrast Q
//   attnscope patch -m model.gguf --clean ... --corrupted ... --target " Mary" --contrast " John"
//       --sweep heads-by-pos --png heads.png --csv heads.csv   (one line)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/patching.h"
#include "attnscope/viz.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/viz_common.h"

namespace attnscope::cli {
namespace {

namespace pt = attnscope::patching;

struct PatchArgs {
  std::string clean, corrupted;
  bool no_bos = false;
  std::string target, contrast;
  int target_id = -1, contrast_id = -1;
  std::string metric;  // logit-diff | logit | log-prob (default: logit-diff with a contrast, else logit)
  int position = -1;
  std::string sweep = "heads";
  std::string method = "exact";
  bool normalize = false;
  int max_batch = 16;
  int top = 10;
  std::string csv, png, svg;
  bool force = false;
};

// How an entry of the result is named in the table: "L1H0", "L0 pos 7 'G'", "L1H2 dest 5 'c'".
std::string entry_label(const pt::Result& r, const std::vector<int64_t>& idx, const std::vector<std::string>& toks) {
  std::string head, where;  // "component L1H0", " pos 7 \"G\""
  auto tok = [&](int64_t p) {
    std::string t = p < static_cast<int64_t>(toks.size()) ? toks[static_cast<size_t>(p)] : "";
    return std::to_string(p) + " " + dump_json(t, -1);
  };
  for (size_t i = 0; i < r.axes.size(); ++i) {
    const std::string& a = r.axes[i];
    const int64_t v = idx[i];
    if (a == "component")
      head += r.components[static_cast<size_t>(v)] + " ";
    else if (a == "layer")
      head += "L" + std::to_string(v);
    else if (a == "head")
      head += "H" + std::to_string(v);
    else if (a == "pos")
      where += " pos " + tok(v);
    else if (a == "dest_pos")
      where += " dest " + tok(v);
    else if (a == "src_pos")
      where += " src " + tok(v);
  }
  const std::string s = head + where;
  return s;
}

// Figures: one panel per [rows, cols] slice with labels for layers, heads and tokens.
void save_figure(const std::string& path, const pt::Result& r, const std::vector<std::string>& toks, int n_layer,
                 const std::string& subtitle) {
  std::vector<std::string> layers, tokens;
  for (int l = 0; l < n_layer; ++l) layers.push_back("L" + std::to_string(l));
  for (size_t p = 0; p < toks.size(); ++p) tokens.push_back(std::to_string(p) + " " + dump_json(toks[p], -1));
  auto heads = [](int64_t n) {
    std::vector<std::string> h;
    for (int64_t i = 0; i < n; ++i) h.push_back("H" + std::to_string(i));
    return h;
  };
  const Tensor& v = r.values;
  std::vector<std::pair<std::string, Tensor>> panels;
  std::vector<std::string> rows, cols;
  const auto& ax = r.axes;
  auto slice = [](const Tensor& t, int64_t i) { return t.slice0(i).clone(); };
  if (ax == std::vector<std::string>{"layer", "head"}) {  // layers x heads
    panels.push_back({r.sweep, v});
    rows = layers;
    cols = heads(v.dim(1));
  } else if (ax == std::vector<std::string>{"layer", "pos"}) {  // layers x positions
    panels.push_back({r.sweep, v});
    rows = layers;
    cols = tokens;
  } else if (ax == std::vector<std::string>{"layer", "pos", "head"}) {  // per layer: heads x positions
    const int64_t T = v.dim(1), H = v.dim(2);
    for (int64_t l = 0; l < v.dim(0); ++l) {
      Tensor p({H, T});
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < H; ++h) p.data()[h * T + t] = v.data()[(l * T + t) * H + h];
      panels.push_back({"L" + std::to_string(l), p});
    }
    rows = heads(H);
    cols = tokens;
  } else if (ax == std::vector<std::string>{"layer", "head", "dest_pos"}) {
    for (int64_t l = 0; l < v.dim(0); ++l) panels.push_back({"L" + std::to_string(l), slice(v, l)});
    rows = heads(v.dim(1));
    cols = tokens;
  } else if (ax == std::vector<std::string>{"component", "layer", "pos"} ||
             ax == std::vector<std::string>{"component", "layer", "head"}) {
    for (int64_t c = 0; c < v.dim(0); ++c) panels.push_back({r.components[static_cast<size_t>(c)], slice(v, c)});
    rows = layers;
    cols = ax[2] == "pos" ? tokens : heads(v.dim(2));
  } else {
    fail(ErrorKind::InvalidArgument, "no figure for the " + r.sweep + " sweep (" + std::to_string(v.ndim()) +
                                         " axes); write it with --csv or --json");
  }
  FigureOptions fo;
  fo.title = "Activation patching: " + r.sweep;
  save_labelled_panels(path, panels, rows, cols, subtitle, fo);
}

int run_patch(const Common& common, const PatchArgs& a) {
  // --method attribution: attribution patching (Nanda 2023), from the gradients layer, plugs in
  // here as a second way to fill the same pt::Result.
  if (a.method == "attribution")
    fail(ErrorKind::Unsupported,
         "--method attribution (attribution patching) is not built in this binary yet; use --method exact");
  if (a.method != "exact")
    fail(ErrorKind::InvalidArgument, "--method must be exact or attribution, not '" + a.method + "'");
  if (a.clean.empty() || a.corrupted.empty())
    fail(ErrorKind::InvalidArgument, "patch needs both --clean TEXT and --corrupted TEXT");
  const pt::Sweep sweep = pt::sweep_from_name(a.sweep);  // a typo fails before the model loads
  Model model = load_model(common);
  const std::vector<int32_t> clean = model.encode(a.clean, !a.no_bos), corrupted = model.encode(a.corrupted, !a.no_bos);
  const int32_t target = resolve_token(model, a.target, a.target_id, "--target");
  const int32_t contrast = resolve_token(model, a.contrast, a.contrast_id, "--contrast");
  if (target < 0) fail(ErrorKind::InvalidArgument, "patch needs --target (the answer token whose logit is watched)");
  const std::string kind = a.metric.empty() ? (contrast >= 0 ? "logit-diff" : "logit") : a.metric;
  pt::Metric metric;
  if (kind == "logit-diff" || kind == "logit_diff") {
    if (contrast < 0) fail(ErrorKind::InvalidArgument, "--metric logit-diff needs --contrast (the wrong answer)");
    metric = pt::logit_diff(target, contrast, a.position);
  } else if (kind == "logit") {
    metric = pt::logit(target, a.position);
  } else if (kind == "log-prob" || kind == "log_prob") {
    metric = pt::log_prob(target, a.position);
  } else {
    fail(ErrorKind::InvalidArgument, "--metric must be logit-diff, logit or log-prob, not '" + kind + "'");
  }
  for (const std::string* f : {&a.png, &a.svg})
    if (!f->empty()) check_overwrite(*f, a.force);

  pt::ActivationPatcher patcher(model, clean, corrupted, metric, {a.normalize, a.max_batch});
  const pt::Result r = patcher.run(sweep);

  std::vector<std::string> toks;
  if (model.has_tokenizer())
    for (int32_t id : clean) toks.push_back(model.tokenizer().token_to_str(id));
  const std::string subtitle = kind + ": clean " + std::to_string(r.clean_metric) + ", corrupted " +
                               std::to_string(r.corrupted_metric) + (r.normalized ? " (values normalised)" : "");
  if (!a.csv.empty()) {
    std::ofstream f(a.csv);
    if (!(f << r.to_csv())) fail(ErrorKind::Io, "cannot write " + a.csv);
  }
  for (const std::string* f : {&a.png, &a.svg})
    if (!f->empty()) save_figure(*f, r, toks, model.config().n_layer, subtitle);

  if (common.json) {
    nlohmann::json j = nlohmann::json::parse(r.to_json());
    j["model"] = model.source();
    j["method"] = a.method;
    j["metric"] = metric.description;
    j["clean_tokens"] = clean;
    j["corrupted_tokens"] = corrupted;
    j["str_tokens"] = toks;
    std::cout << dump_json(j) << "\n";
    return 0;
  }
  std::printf("%s patching, sweep %s, metric %s\n", a.method.c_str(), r.sweep.c_str(), metric.description.c_str());
  std::printf("clean %.4f, corrupted %.4f; %d patched runs in %d passes\n", r.clean_metric, r.corrupted_metric,
              r.patched_runs, r.forward_passes);
  // The largest entries first (the most restoring patches).
  std::vector<int64_t> order(static_cast<size_t>(r.values.numel()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  const float base = r.normalized ? 0.0f : static_cast<float>(r.corrupted_metric);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
    return std::fabs(r.values.data()[x] - base) > std::fabs(r.values.data()[y] - base);
  });
  std::printf("largest changes%s:\n", r.normalized ? " (normalised: 1 = the clean run)" : " from the corrupted run");
  for (size_t i = 0; i < order.size() && static_cast<int>(i) < a.top; ++i) {
    std::vector<int64_t> idx(static_cast<size_t>(r.values.ndim()));
    int64_t rest = order[i];
    for (int d = r.values.ndim() - 1; d >= 0; --d) {
      idx[static_cast<size_t>(d)] = rest % r.values.dim(d);
      rest /= r.values.dim(d);
    }
    std::printf("  %-32s %+.4f\n", entry_label(r, idx, toks).c_str(), r.values.data()[order[i]]);
  }
  for (const std::string* f : {&a.csv, &a.png, &a.svg})
    if (!f->empty()) std::cout << "wrote " << *f << "\n";
  return 0;
}

const CommandRegistrar reg{
    {"patch", "activation patching: which components of a clean run restore its answer in a corrupted run",
     [](CLI::App& sub, Common& common) -> std::function<int()> {
       auto a = std::make_shared<PatchArgs>();
       add_common_options(sub, common);
       sub.add_option("--clean", a->clean, "the clean prompt (its activations are patched in)")->required();
       sub.add_option("--corrupted", a->corrupted, "the corrupted prompt (same number of tokens; the run patched)")
           ->required();
       sub.add_flag("--no-bos", a->no_bos, "do not prepend BOS");
       sub.add_option("--target", a->target, "answer token (text that encodes to exactly one token)");
       sub.add_option("--target-id", a->target_id, "answer token id");
       sub.add_option("--contrast", a->contrast, "wrong-answer token for a logit difference (target - contrast)");
       sub.add_option("--contrast-id", a->contrast_id, "wrong-answer token id");
       sub.add_option("--metric", a->metric,
                      "logit-diff (default with --contrast), logit (default without) or log-prob of the target");
       sub.add_option("--pos,--position", a->position, "position whose logits the metric reads (default: last)");
       sub.add_option("--sweep", a->sweep,
                      "heads (layers x heads), heads-by-pos, resid, attn-out, mlp-out, pattern, or any of "
                      "TransformerLens' get_act_patch_* names (resid_mid, attn_head_q_by_pos, block_every, ...)");
       sub.add_option("--method", a->method, "exact (one patched run per entry) or attribution");
       sub.add_flag("--normalize", a->normalize, "report (patched - corrupted) / (clean - corrupted)");
       sub.add_option("--max-batch", a->max_batch, "patched runs per batched pass")->check(CLI::PositiveNumber);
       sub.add_option("--top", a->top, "entries listed in the table")->check(CLI::NonNegativeNumber);
       sub.add_option("--csv", a->csv, "write every entry as CSV (the axes' indices, then value)");
       sub.add_option("--png", a->png, "write a heatmap figure (layers x heads, or heads x positions per layer)");
       sub.add_option("--svg", a->svg, "the same figure as SVG");
       sub.add_flag("--force", a->force, "overwrite figure files attnscope did not write");
       return [&common, a] { return run_patch(common, *a); };
     }}};

}  // namespace
}  // namespace attnscope::cli
