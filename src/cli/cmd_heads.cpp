// `attnscope heads "text"`: every head's scores on one text and the types they pass
// (previous-token, first-token, current-token, induction, duplicate-token).
#include <iostream>
#include <optional>

#include "attnscope/analysis.h"
#include "attnscope/model.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/options.h"
#include "cli/precision_warning.h"

namespace attnscope::cli {
namespace {

struct HeadsArgs {
  std::string text;
  std::vector<int> layers;
  std::optional<double> threshold;
  bool csv = false, raw = false, exclude_bos = false;
  std::string weighting = "weight";
};

int run_heads(const Common& common, const HeadsArgs& a) {
  const Model model = load_model(common);
  const auto warning = warn_lossy_path(model, common.json);
  AttentionPatternDetector det =
      a.threshold ? AttentionPatternDetector::uniform_threshold(*a.threshold) : AttentionPatternDetector();
  det.options.chance_corrected = !a.raw;
  det.options.exclude_bos = a.exclude_bos;
  det.weighting = a.weighting == "value" ? AttentionWeighting::Value : AttentionWeighting::Weight;
  const HeadTypeReport r = detect_head_types(model, a.text, det, a.layers);
  const ReportFormat f = common.json ? ReportFormat::Json : a.csv ? ReportFormat::Csv : ReportFormat::Table;
  if (f == ReportFormat::Table) std::cout << "model: " << model.source() << "\n";
  // The table and JSON carry the row counts and their warning; CSV has one row per head, so the
  // warning goes to stderr.
  if (f == ReportFormat::Csv)
    for (const auto& type : r.few_row_scores())
      std::cerr << "attnscope: warning: " << type << " rests on fewer than " << kMinScoreRows
                << " query rows: its types are anecdotes (--json gives score_rows)\n";
  std::cout << (f == ReportFormat::Json ? with_precision_warning(format_report(r, f), warning) : format_report(r, f));
  return 0;
}

const CommandRegistrar kHeads{{
    "heads",
    "classify every attention head on a text (previous/first/current-token, induction, duplicate)",
    [](CLI::App& sub, Common& common) {
      auto args = std::make_shared<HeadsArgs>();
      add_common_options(sub, common);
      add_text_argument(sub, args->text, "the text to run", /*required=*/true);
      add_layers_option(sub, args->layers, "only these layers (default: all)");
      sub.add_option("--threshold", args->threshold,
                     "one threshold for every type (default: induction 0.4, previous 0.5, first 0.3, "
                     "current 0.3, duplicate 0.3)")
          ->check(CLI::Range(0.0, 1.0));
      sub.add_flag("--raw", args->raw, "raw scores as in mlxterp (default: chance-corrected)");
      sub.add_flag("--exclude-bos", args->exclude_bos, "drop BOS row and column from the scores");
      sub.add_flag("--csv", args->csv, "CSV output");
      sub.add_option("--weighting", args->weighting,
                     "score the attention weights, or value-weighted attention (Kobayashi et al. 2020)")
          ->check(CLI::IsMember({"weight", "value"}))
          ->capture_default_str();
      return [&common, args]() { return run_heads(common, *args); };
    },
}};

}  // namespace
}  // namespace attnscope::cli
