// `attnscope induction`: the random-repeat induction scan (BOS + random tokens repeated),
// heads sorted by induction score; with --lengths, every head's score at each repeat distance.
#include <iostream>

#include "attnscope/analysis.h"
#include "attnscope/error.h"
#include "attnscope/long_context.h"
#include "attnscope/model.h"
#include "cli/command.h"
#include "cli/long_context_common.h"
#include "cli/model_common.h"
#include "cli/options.h"
#include "cli/precision_warning.h"
#include "cli/viz_common.h"

namespace attnscope::cli {
namespace {

struct InductionArgs {
  InductionOptions opt;
  bool csv = false, raw = false, allow_repeats = false;
  std::string weighting = "weight";
  std::vector<int> lengths;  // --lengths: repeat distances (induction_by_length)
  std::string output;
  bool force = false;
};

// --lengths: the scan at each repeat distance, a lengths x heads table.
int run_induction_lengths(const Common& common, const InductionArgs& a, const Model& model,
                          const std::optional<std::string>& warning) {
  if (a.weighting != "weight")
    fail(ErrorKind::InvalidArgument, "induction --lengths scores the attention weights only (drop --weighting)");
  LongInductionOptions o;
  o.lengths = a.lengths;
  o.seed = a.opt.seed;
  o.distinct_tokens = !a.allow_repeats;
  o.score.chance_corrected = !a.raw;
  o.layers = a.opt.layers;
  const LongInductionReport r = induction_by_length(model, o);
  const ReportFormat f = common.json ? ReportFormat::Json : a.csv ? ReportFormat::Csv : ReportFormat::Table;
  if (f == ReportFormat::Table) std::cout << "model: " << model.source() << "\n";
  std::cout << (f == ReportFormat::Json ? with_precision_warning(format_report(r, f), warning) : format_report(r, f));
  if (!a.output.empty()) {
    save_induction_length_figure(a.output, r, a.opt.threshold);
    if (f == ReportFormat::Table) std::cout << "wrote " << a.output << "\n";
  }
  return 0;
}

int run_induction(const Common& common, InductionArgs a) {
  if (!a.output.empty() && a.lengths.empty())
    fail(ErrorKind::InvalidArgument, "induction: -o draws the score versus repeat distance: give --lengths too");
  if (!a.output.empty()) check_overwrite(a.output, a.force);
  const Model model = load_model(common);
  const auto warning = warn_lossy_path(model, common.json);
  if (!a.lengths.empty()) return run_induction_lengths(common, a, model, warning);
  a.opt.score.chance_corrected = !a.raw;
  a.opt.distinct_tokens = !a.allow_repeats;
  a.opt.weighting = a.weighting == "value" ? AttentionWeighting::Value : AttentionWeighting::Weight;
  const InductionScan s = detect_induction_heads(model, a.opt);
  const ReportFormat f = common.json ? ReportFormat::Json : a.csv ? ReportFormat::Csv : ReportFormat::Table;
  if (f == ReportFormat::Table) std::cout << "model: " << model.source() << "\n";
  std::cout << (f == ReportFormat::Json ? with_precision_warning(format_report(s, f), warning) : format_report(s, f));
  return 0;
}

const CommandRegistrar kInduction{{
    "induction",
    "find induction heads with repeated random token sequences",
    [](CLI::App& sub, Common& common) {
      auto args = std::make_shared<InductionArgs>();
      add_common_options(sub, common);
      sub.add_option("--n-random-tokens", args->opt.n_random_tokens, "length of the random segment")
          ->capture_default_str();
      sub.add_option("--n-repeats", args->opt.n_repeats, "how often the segment is repeated")->capture_default_str();
      sub.add_option("--threshold", args->opt.threshold, "score needed to count as an induction head")
          ->capture_default_str()
          ->check(CLI::Range(0.0, 1.0));
      sub.add_option("--seed", args->opt.seed, "random seed")->capture_default_str();
      sub.add_option("--seeds", args->opt.n_seeds, "number of seeds (seed, seed+1, ...): mean and spread")
          ->capture_default_str();
      add_layers_option(sub, args->opt.layers, "only these layers (default: all)");
      sub.add_flag("--raw", args->raw, "raw scores as in mlxterp (default: chance-corrected)");
      sub.add_flag("--allow-repeats", args->allow_repeats,
                   "draw random tokens with replacement even when the vocabulary has enough distinct ones");
      sub.add_flag("--csv", args->csv, "CSV output");
      add_int_list_option(sub, "--lengths", args->lengths,
                          "repeat distances (e.g. 16,64,256,1024): the scan at each, one score per head and distance");
      add_output_option(sub, args->output, "with --lengths: score versus distance figure (PNG, SVG or PDF)");
      sub.add_flag("--force", args->force, "overwrite an existing file not written by attnscope");
      sub.add_option("--weighting", args->weighting,
                     "score the attention weights, or value-weighted attention (Kobayashi et al. 2020)")
          ->check(CLI::IsMember({"weight", "value"}))
          ->capture_default_str();
      return [&common, args]() { return run_induction(common, *args); };
    },
}};

}  // namespace
}  // namespace attnscope::cli
