// `attnscope induction`: the random-repeat induction scan (BOS + random tokens repeated),
// heads sorted by induction score.
#include <iostream>

#include "attnscope/analysis.h"
#include "attnscope/model.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/options.h"
#include "cli/precision_warning.h"

namespace attnscope::cli {
namespace {

struct InductionArgs {
  InductionOptions opt;
  bool csv = false, raw = false, allow_repeats = false;
  std::string weighting = "weight";
};

int run_induction(const Common& common, InductionArgs a) {
  const Model model = load_model(common);
  const auto warning = warn_lossy_path(model, common.json);
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
      sub.add_option("--weighting", args->weighting,
                     "score the attention weights, or value-weighted attention (Kobayashi et al. 2020)")
          ->check(CLI::IsMember({"weight", "value"}))
          ->capture_default_str();
      return [&common, args]() { return run_induction(common, *args); };
    },
}};

}  // namespace
}  // namespace attnscope::cli
