// `attnscope explore`: writes the self-contained interactive explorer (one HTML file) and prints
// the head-type summary. Without -m it uses the built-in toy model and a prompt with a repeated
// name, so induction and previous-token heads have something to do.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include "attnscope/analysis.h"
#include "attnscope/attribution.h"
#include "attnscope/viz.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/options.h"
#include "cli/viz_common.h"

namespace attnscope::cli {
namespace {

constexpr const char* kDefaultPrompt = "Her name was Alex Hart. Tomorrow at lunch time Alex";

struct ExploreArgs {
  PatternSource src;
  std::string out = "explorer.html";
  std::string colormap = "Blues";
  std::string title;
  int bits = 0;
  double threshold = -1;  // < 0: the detector's per-type defaults
  bool force = false;
  bool no_detect = false;
  bool no_analysis = false;
};

// One line per head type, strongest heads first; long lists are cut with an explicit count
// (the full table: `attnscope explore --json` or the analysis commands).
std::string compact_summary(const std::vector<HeadTypeMark>& marks, size_t n_heads) {
  std::map<std::string, std::vector<const HeadTypeMark*>> by_type;
  for (const auto& m : marks) by_type[m.label].push_back(&m);
  std::ostringstream os;
  os << "head types (" << n_heads << " heads analysed):\n";
  if (by_type.empty()) os << "  none above threshold\n";
  for (auto& [type, list] : by_type) {
    std::stable_sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->score > b->score; });
    os << "  " << type << " (" << list.size() << "):";
    constexpr size_t kShown = 12;
    for (size_t i = 0; i < list.size() && i < kShown; ++i) {
      char score[16];
      std::snprintf(score, sizeof score, "%.2f", list[i]->score);
      os << " " << head_label(list[i]->layer, list[i]->head) << " " << score;
    }
    if (list.size() > kShown) os << " ... and " << list.size() - kShown << " more";
    os << "\n";
  }
  return os.str();
}

int run_explore(const Common& common, const ExploreArgs& a) {
  check_overwrite(a.out, a.force);
  Colormap::by_name(a.colormap);  // fail before the model run
  LoadedPatterns lp = load_patterns(common, a.src);

  // Head types for the overlay and the printed summary. Token identity for induction/duplicate
  // scores: the ids of a model run, else the token strings themselves.
  std::vector<int32_t> ids = lp.ids;
  if (ids.empty()) {
    std::map<std::string, int32_t> seen;
    for (const auto& t : lp.tokens) ids.push_back(seen.emplace(t, static_cast<int32_t>(seen.size())).first->second);
  }
  ExplorerOptions opt;
  opt.colormap = a.colormap;
  opt.bits = a.bits;
  opt.title = a.title.empty() ? "Attention explorer: " + lp.model_name : a.title;
  opt.subtitle = a.src.patterns_json.empty() && a.src.synthetic.empty() ? "Text: " + a.src.prompt : lp.model_name;
  std::string summary;
  if (!a.no_detect) {
    const AttentionPatternDetector detector =
        a.threshold >= 0 ? AttentionPatternDetector::uniform_threshold(a.threshold) : AttentionPatternDetector();
    const HeadTypeReport report = classify_heads(lp.patterns, ids, detector);
    for (const auto& h : report.heads) {
      const auto scores = h.scores.to_map();
      for (const auto& type : h.types) {
        if (type == kUnknown) continue;
        auto s = scores.find(type);
        // A non_finite head has no score of its own: NaN, printed as nan and stored as null.
        opt.head_types.push_back({h.layer, h.head, type, s == scores.end() ? std::nan("") : s->second});
      }
    }
    summary =
        common.json ? format_report(report, ReportFormat::Json) : compact_summary(opt.head_types, report.heads.size());
  }
  // Views beyond the weights need the model itself: only for a model run.
  if (!a.no_analysis && !lp.ids.empty()) opt.analysis = explorer_analysis(load_model(common), lp.ids, lp.patterns);
  save_explorer(a.out, lp.patterns, lp.tokens, opt);
  if (common.json) {
    std::cout << "{\"written\": \"" << a.out << "\", \"report\": " << (summary.empty() ? "null" : summary) << "}\n";
  } else {
    if (!summary.empty()) std::cout << summary << (summary.back() == '\n' ? "" : "\n");
    std::cout << "wrote " << a.out << " (" << lp.tokens.size() << " tokens, " << lp.patterns.size()
              << " layers); open it in a browser\n";
  }
  return 0;
}

const CommandRegistrar kExplore{{
    "explore",
    "write the interactive attention explorer (one HTML file) and print the head types",
    [](CLI::App& sub, Common& common) {
      auto args = std::make_shared<ExploreArgs>();
      add_common_options(sub, common);
      add_pattern_source_options(sub, args->src, kDefaultPrompt);
      add_output_option(sub, args->out, "output HTML file")->capture_default_str();
      sub.add_option("--colormap", args->colormap, "colormap name (Blues, viridis, magma, ...)")->capture_default_str();
      sub.add_option("--title", args->title, "page title");
      sub.add_option("--bits", args->bits, "stored precision of the weights: 8 or 16 (default: 16 while small)")
          ->check(CLI::IsMember({0, 8, 16}));
      sub.add_option("--threshold", args->threshold, "one detection threshold for every head type (default: per type)")
          ->check(CLI::Range(0.0, 1.0));
      sub.add_flag("--no-detect", args->no_detect, "skip head-type detection");
      sub.add_flag("--no-analysis", args->no_analysis,
                   "weights only: no value-weighted/rollout views, logit attribution or composition panels");
      sub.add_flag("--force", args->force, "overwrite an existing file not written by attnscope");
      return [&common, args]() { return run_explore(common, *args); };
    },
}};

}  // namespace
}  // namespace attnscope::cli
