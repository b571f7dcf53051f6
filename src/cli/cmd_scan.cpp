// `attnscope scan`: per-head statistics over a corpus (see attnscope/scan.h), written as they
// are computed into -o DIR so that an interrupted scan continues with --resume.
//   attnscope scan prompts.txt -m stories260K.gguf -o out/scan --induction-seeds 5
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/scan.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/options.h"
#include "cli/precision_warning.h"

namespace attnscope::cli {
namespace {

struct ScanArgs {
  std::vector<std::string> corpus;
  std::string out, on_bad = "refuse", target, padding = "right";
  int target_id = -1;
  bool resume = false, force = false, no_progress = false;
  ScanOptions opt;
};

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once (the journal is still whole)
}

std::string clock_text(double s) {
  const long t = static_cast<long>(s + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  return buf;
}

// One line redrawn in place on a terminal: bar, units, rate and time left.
void draw_progress(const ScanProgress& p) {
  const int width = 30;
  const double frac = p.total ? static_cast<double>(p.done) / static_cast<double>(p.total) : 1.0;
  const int fill = static_cast<int>(frac * width);
  const double rate = p.seconds > 0 ? static_cast<double>(p.done - p.resumed) / p.seconds : 0.0;
  std::string bar(static_cast<size_t>(fill), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\rscan [%s] %lld/%lld  %.1f prompts/s  ETA %s ", bar.c_str(), static_cast<long long>(p.done),
               static_cast<long long>(p.total), rate,
               rate > 0 ? clock_text(static_cast<double>(p.total - p.done) / rate).c_str() : "?");
  if (p.done == p.total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

void print_table(const ScanResult& r) {
  std::printf("%zu units (%lld resumed), %zu batches, %zu layers x %d heads\n", r.plan.units.size(),
              static_cast<long long>(r.resumed_units), r.plan.batches.size(), r.plan.layers.size(), r.plan.n_head);
  // The three heads of each metric that matter most (mean and 95 % interval), ranked from the end
  // that means "matters most" for it (metric_rank), which the line names.
  std::printf("top 3 heads per metric: mean [95%% interval]\n");
  for (const auto& m : r.plan.metrics) {
    const std::vector<HeadSummary> heads = top_heads(r.summary, m, 3);
    const MetricRank rank = metric_rank(m);
    std::printf("%-28s %-29s", m.c_str(),
                rank == MetricRank::LowestFirst ? "(lowest first: largest drop)" : "(highest first)");
    if (heads.empty()) std::printf(" (no data)");
    for (const auto& h : heads) std::printf("  L%dH%d %.3f [%.3f, %.3f]", h.layer, h.head, h.mean, h.ci_low, h.ci_high);
    std::printf("\n");
  }
}

int run_scan_command(const Common& common, ScanArgs a) {
  if (a.resume && a.force) fail(ErrorKind::InvalidArgument, "--resume and --force exclude each other");
  if ((a.resume || a.force) && a.out.empty())
    fail(ErrorKind::InvalidArgument, "--resume and --force act on an output directory: give -o DIR");
  if (a.on_bad != "refuse" && a.on_bad != "skip")
    fail(ErrorKind::InvalidArgument, "--on-bad-input takes 'refuse' or 'skip', got '" + a.on_bad + "'");
  const BadInputPolicy policy = a.on_bad == "skip" ? BadInputPolicy::Skip : BadInputPolicy::Refuse;
  a.opt.padding = padding_from_name(a.padding);
  a.opt.on_bad_input = policy;
  const Model model = load_model(common);
  const auto warning = warn_lossy_path(model, common.json);
  if (!a.target.empty() || a.target_id >= 0) {
    a.opt.ablation = true;
    a.opt.ablation_target = resolve_token(model, a.target, a.target_id, "--target");
  }
  const Corpus corpus = read_corpus(a.corpus, policy);
  const ScanPlan plan = plan_scan(model, corpus, a.opt);
  for (const auto& s : plan.corpus.skipped) std::cerr << "attnscope: skipped " << describe(s) << "\n";

  const bool bar = !a.no_progress && ::isatty(STDERR_FILENO);
  g_interrupted = false;
  std::signal(SIGINT, on_sigint);
  const OutputMode mode = a.resume ? OutputMode::Resume : a.force ? OutputMode::Force : OutputMode::New;
  const ScanResult r =
      run_scan(model, plan, a.opt, a.out, mode, bar ? draw_progress : std::function<void(const ScanProgress&)>(),
               [] { return g_interrupted.load(); });
  std::signal(SIGINT, SIG_DFL);
  if (r.interrupted) {
    std::cerr << (bar ? "\n" : "") << "attnscope: interrupted after " << r.rows.size() << " of " << plan.units.size()
              << " units" << (a.out.empty() ? "" : "; run the same command with --resume to continue") << "\n";
    return 130;
  }
  if (common.json)
    std::cout << with_precision_warning(scan_summary_json(r), warning);  // invalid UTF-8 in paths is replaced
  else
    print_table(r);
  if (!a.out.empty() && !common.json)
    std::cerr << "wrote " << a.out << "/{summary.csv,summary.json,prompts.csv,prompts.npz}\n";
  return 0;
}

const CommandRegistrar kScan{{
    "scan",
    "per-head statistics over a corpus (resumable; see --resume)",
    [](CLI::App& sub, Common& common) {
      auto a = std::make_shared<ScanArgs>();
      add_common_options(sub, common);
      sub.add_option("corpus", a->corpus,
                     "text file (one prompt per line), .jsonl (a \"text\" field per line) or folder of .txt files")
          ->required();
      add_output_option(sub, a->out, "directory for journal.jsonl, summary.csv/.json, prompts.csv/.npz");
      sub.add_flag("--resume", a->resume, "continue the scan already in -o DIR");
      sub.add_flag("--force", a->force, "replace the scan files already in -o DIR");
      sub.add_option("--on-bad-input", a->on_bad,
                     "refuse (default) or skip empty / non-UTF-8 / too long lines and missing files; skips are listed")
          ->capture_default_str();
      add_layers_option(sub, a->opt.layers, "only these layers (default: all)");
      sub.add_option("--induction-seeds", a->opt.induction_seeds,
                     "also score induction on random repeated tokens, one sequence per seed (default 0: off)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--induction-tokens", a->opt.induction_tokens, "random segment length")->capture_default_str();
      sub.add_option("--seed", a->opt.induction_seed, "first random-induction seed")->capture_default_str();
      sub.add_flag("--ablation", a->opt.ablation,
                   "mean-ablate every head per prompt: change of the prompt's last token (predicted before it)");
      sub.add_option("--target", a->target,
                     "ablation target token (text that encodes to exactly one token) at the last position");
      sub.add_option("--target-id", a->target_id, "ablation target token id");
      sub.add_option("--batch", a->opt.max_batch, "prompts per forward pass (of different lengths: padded)")
          ->capture_default_str()
          ->check(CLI::PositiveNumber);
      sub.add_option("--padding-side", a->padding, "where a batch's pads go: right or left")->capture_default_str();
      sub.add_flag("--no-progress", a->no_progress, "no progress bar (it is only drawn on a terminal anyway)");
      return [&common, a]() { return run_scan_command(common, *a); };
    },
}};

}  // namespace
}  // namespace attnscope::cli
