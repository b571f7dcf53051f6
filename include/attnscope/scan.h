// Head statistics over a corpus. For every head of every scanned layer and every prompt, the
// built-in pattern scores of analysis.h (raw and chance-corrected), optionally custom pattern
// functions, induction on random repeated tokens over several seeds, and the effect of
// mean-ablating the head on a target token; then per-head mean, standard deviation, 95 %
// interval and count.
//
// A scan is planned once (plan_scan: tokenize, check, group the work into batches of prompts run
// in one forward pass), then its batches are run in any order and by any process
// (scan_batch), and the per-unit rows are combined by ScanStats. The batches, and so every number
// of a row, depend only on the corpus and the options, never on who ran them; ScanStats sums
// exactly (see ExactSum), so one process, a resumed run and a cluster give bit-identical
// statistics.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attnscope/analysis.h"
#include "attnscope/corpus.h"
#include "attnscope/trace.h"

namespace attnscope {

class Model;

struct ScanOptions {
  std::vector<int> layers;                               // empty: all
  bool add_bos = true;                                   // prepend BOS to each prompt when the tokenizer's rules say so
  BadInputPolicy on_bad_input = BadInputPolicy::Refuse;  // for prompts longer than the context
  // Random-repeat induction (see detect_induction_heads): one unit per seed
  // induction_seed, induction_seed + 1, ...; 0 seeds: off.
  int induction_seeds = 0;
  int induction_tokens = 50;
  int induction_repeats = 2;
  uint64_t induction_seed = 42;
  // Mean ablation (AblationKind::Mean): the change of the target's logit and probability when
  // the head's output is replaced by its mean over the prompt. ablation_target < 0: each
  // prompt's own last token, predicted at the position before it; otherwise this token id,
  // predicted at the last position.
  bool ablation = false;
  int32_t ablation_target = -1;
  // Custom pattern functions (e.g. a PatternRegistry's), each a metric of its own name.
  std::vector<std::pair<std::string, PatternFn>> custom;
  int max_batch = 16;  // prompts per forward pass (a ragged batch: see Trace::padding)
  Padding padding = Padding::Right;
};

// Metric names, in the order of a row's values.
inline constexpr const char* kCorrectedSuffix = "_corrected";
inline constexpr const char* kInductionRandom = "induction_random";
inline constexpr const char* kAblationDeltaLogit = "ablation_delta_logit";
inline constexpr const char* kAblationDeltaProb = "ablation_delta_prob";

// One thing run through the model: a corpus prompt, or one random-induction seed.
struct ScanUnit {
  enum class Kind { Prompt, RandomInduction };
  int64_t index = 0;  // position in ScanPlan::units
  Kind kind = Kind::Prompt;
  int64_t prompt = -1;  // CorpusPrompt::index (Prompt), or -1
  uint64_t seed = 0;    // (RandomInduction)
  std::vector<int32_t> ids;
};

struct ScanPlan {
  std::vector<std::string> metrics;  // see scan_metrics()
  std::vector<int> layers;           // sorted
  int n_head = 0;
  std::vector<ScanUnit> units;                // prompts in corpus order, then seeds
  std::vector<std::vector<int64_t>> batches;  // unit indices per forward pass
  Corpus corpus;                              // skipped now includes over-long prompts
  std::string fingerprint;                    // hex digest of model, options and every unit's tokens (resume check)
  int64_t values_per_unit() const {
    return static_cast<int64_t>(metrics.size()) * static_cast<int64_t>(layers.size()) * n_head;
  }
};

// The metrics a scan with these options reports: previous_token, first_token, current_token,
// induction, duplicate_token (each followed by its "_corrected" form), the custom names,
// induction_random(+_corrected) with seeds, ablation_delta_logit/prob with ablation.
std::vector<std::string> scan_metrics(const ScanOptions& options);

// Tokenizes and checks the corpus (a prompt longer than the context follows on_bad_input), and
// groups units into ragged batches of at most max_batch in order of length (shortest first), so a
// batch pads little. Errors
// (InvalidArgument): a bad layer, max_batch < 1, bad induction settings, nothing left to scan.
ScanPlan plan_scan(const Model& model, const Corpus& corpus, const ScanOptions& options);

// The values of one unit: values[(m * n_layers + li) * n_head + h] for metric m, layer slot li,
// head h; NaN where a metric does not apply (token induction/duplicate on a prompt without a
// repeated token, prompt metrics on random units and the reverse, ablation on a 1-token prompt).
struct ScanRow {
  int64_t unit = 0;
  std::vector<double> values;
};
// Runs one batch (unit indices into plan.units); rows in the batch's order.
std::vector<ScanRow> scan_batch(const Model& model, const ScanPlan& plan, const std::vector<int64_t>& batch,
                                const ScanOptions& options);

// An exact running sum of doubles (Shewchuk's non-overlapping expansion, the algorithm behind
// Python's math.fsum): value() is the correctly rounded sum of everything added, whatever the
// order of additions and merges. Exact for finite inputs; an infinity or NaN makes value() one.
class ExactSum {
 public:
  void add(double x);
  void merge(const ExactSum& other);
  double value() const;
  const std::vector<double>& parts() const { return parts_; }  // for serialisation
  static ExactSum from_parts(const std::vector<double>& parts);

 private:
  std::vector<double> parts_;  // non-overlapping, increasing magnitude
  double special_ = 0;         // sum of the non-finite inputs
  bool has_special_ = false;
};

// Per (metric, layer, head): count, exact sum and exact sum of squares (x*x split exactly into a
// product and its rounding error with fma), so any partition of the rows merges to the same
// bits.
struct HeadSummary {
  std::string metric;
  int layer = 0, head = 0;
  int64_t count = 0;
  double mean = 0, std = 0;  // std: sample standard deviation (n - 1); 0 for n < 2
  // 95 % interval of the mean: mean -+ t(0.975, n - 1) * std / sqrt(n) (Student's t; the
  // normal 1.96 from n = 1000 on); equal to the mean for n < 2.
  double ci_low = 0, ci_high = 0;
};
class ScanStats {
 public:
  ScanStats() = default;
  explicit ScanStats(const ScanPlan& plan);
  void add(const ScanRow& row);              // NaN values are not counted
  void merge(const ScanStats& other);        // InvalidArgument when the shapes differ
  std::vector<HeadSummary> summary() const;  // metric-major, then layer, head
  // Serialised form (JSON text) so partial statistics can cross process boundaries.
  std::string to_json() const;
  static ScanStats from_json(const std::string& text);

 private:
  std::vector<std::string> metrics_;
  std::vector<int> layers_;
  int n_head_ = 0;
  std::vector<int64_t> count_;
  std::vector<ExactSum> sum_, sumsq_;
};

// Student's t quantile t(0.975, dof) for dof >= 1 (table to 30, then an asymptotic series).
double t_quantile_975(int64_t dof);

// ---- a whole scan with durable, resumable output ---------------------------------------

enum class OutputMode { New, Resume, Force };
struct ScanProgress {
  int64_t done = 0, total = 0;  // units
  double seconds = 0;           // since this run started
  int64_t resumed = 0;          // units taken from the journal
};
struct ScanResult {
  ScanPlan plan;
  std::vector<ScanRow> rows;  // by unit index
  std::vector<HeadSummary> summary;
  int64_t resumed_units = 0;
  bool interrupted = false;        // stop() returned true before the end
  std::vector<std::string> files;  // written into the output directory
};

// Runs every batch of `plan` not yet in `output_dir`'s journal, appending each batch's rows to
// output_dir/journal.jsonl (fsync'd) as soon as it is computed, then writes summary.csv,
// summary.json, prompts.csv and prompts.npz. An interrupted scan (stop() returning true, a
// crash, a kill) restarts with OutputMode::Resume and ends with exactly the numbers of an
// uninterrupted one. New refuses (InvalidArgument) a directory that already holds scan files;
// Force replaces them; Resume refuses a journal written by another scan (other model, corpus or
// options: the plan fingerprint differs). An empty output_dir keeps everything in memory.
ScanResult run_scan(const Model& model, const ScanPlan& plan, const ScanOptions& options,
                    const std::string& output_dir = "", OutputMode mode = OutputMode::New,
                    const std::function<void(const ScanProgress&)>& progress = {},
                    const std::function<bool()>& stop = {});

// Which end of a metric's means marks the heads that matter most. The pattern scores (built-in
// and custom) and random induction: the highest. The ablation deltas (ablated - clean): the
// lowest, i.e. the largest drop of the target's logit or probability when the head is removed
// (a head whose removal raises it works against the target).
enum class MetricRank { HighestFirst, LowestFirst };
MetricRank metric_rank(const std::string& metric);
const char* metric_rank_name(MetricRank rank);  // "highest first", "lowest first"
// The `n` heads of `metric` in `summary` that matter most by metric_rank (ties: layer, head);
// heads without data (count 0, NaN mean) are left out.
std::vector<HeadSummary> top_heads(const std::vector<HeadSummary>& summary, const std::string& metric, size_t n);

// The per-head table as CSV (metric,layer,head,count,mean,std,ci_low,ci_high; NaN empty) and
// the scan's JSON summary (counts, skipped input with file and line, every head's statistics).
std::string scan_summary_csv(const ScanResult& result);
std::string scan_summary_json(const ScanResult& result);

}  // namespace attnscope
