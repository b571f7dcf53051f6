// How far one run of a model moves from another on the same prompts: the stored-precision path
// (bfloat16 products on weights as stored) against the exact float32 path on the same file, or one
// file (e.g. Q4_K_M) against another of the same model (e.g. BF16, or a safetensors directory).
// Whoever reads a head of a quantised model can see whether it is the model's or the quantisation's.
//
// Per layer and head, over every prompt (patterns A of `model` and R of `reference`, [Q, K] each):
//   max_abs_delta   max |A - R| over every entry
//   mean_abs_delta  mean |A - R| over the causal entries (key <= query; the rest are 0 in both)
//   js_mean, js_max Jensen-Shannon divergence of each row pair (Lin 1991, "Divergence measures
//                   based on the Shannon entropy", IEEE Trans. Inf. Theory 37(1)), in nats (natural
//                   log, so in [0, ln 2]): JS(a, r) = (KL(a || m) + KL(r || m)) / 2, m = (a + r) / 2;
//                   the mean and the max over every row of every prompt
//   scores          each built-in head score (AttentionPatternDetector::analyze_head with the
//                   prompt's tokens) of both runs, averaged over the prompts where it is defined,
//                   and the largest |change| on one prompt
//   types           AttentionPatternDetector::classify of the averaged scores, for both runs, and
//                   on how many prompts the per-prompt types differ
// Per prompt: the share of positions whose argmax logit (first on ties) agrees, and the largest
// |logit change| with its position and token. Any NaN/inf in a pattern or logit makes the
// affected figures NaN (never a small number).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attnscope/analysis.h"
#include "attnscope/model.h"

namespace attnscope {

struct FidelityOptions {
  std::vector<int> layers;                                         // empty: all
  AttentionPatternDetector detector = AttentionPatternDetector();  // scores and thresholds of the score/type columns
  bool add_bos = true;                                             // for text prompts
};

// One score of one head under both runs.
struct ScoreChange {
  double reference = 0, model = 0;  // mean over the prompts where the score is defined
  double delta = 0;                 // model - reference
  double max_abs_delta = 0;         // largest |change| on a single prompt
};

struct HeadFidelity {
  int layer = 0, head = 0;
  double max_abs_delta = 0, mean_abs_delta = 0;
  double js_mean = 0, js_max = 0;             // nats
  std::map<std::string, ScoreChange> scores;  // kPreviousToken, kFirstToken, ... (those defined)
  std::vector<std::string> reference_types, model_types;
  int type_changed_prompts = 0;  // prompts whose per-prompt types differ between the runs
  bool type_changed() const { return reference_types != model_types; }
};

struct PromptFidelity {
  std::vector<int32_t> tokens;
  std::vector<std::string> str_tokens;  // empty without a tokenizer
  double argmax_agreement = 0;          // fraction of positions, in [0, 1]
  double max_abs_logit_delta = 0;
  int64_t max_logit_position = 0;    // where the largest change is
  int32_t max_logit_token = 0;       // and for which vocabulary entry
  double max_abs_pattern_delta = 0;  // over every captured head
};

struct FidelityReport {
  std::string model_source, reference_source;
  std::string model_dtype, reference_dtype;          // Model::dtype() of each
  std::string model_path_note, reference_path_note;  // describe_precision_path() of each
  int n_layers = 0, n_heads = 0;
  std::vector<int> layers;  // compared layers
  FidelityOptions options;
  std::vector<PromptFidelity> prompts;
  std::vector<HeadFidelity> heads;  // layer then head order
  // Heads ordered worst first by `key` ("js_mean", "js_max", "max_abs_delta", "mean_abs_delta"),
  // NaN first (a head with NaN is broken, not fine). InvalidArgument for another key.
  std::vector<HeadFidelity> worst_heads(const std::string& key = "js_mean") const;
};

// Refuses (InvalidArgument, saying what differs) a pair that is not the same model: different hook
// points (names or per-layer shapes: layers, heads, head size), vocabulary size or tokenizer tokens.
void check_same_model(const Model& model, const Model& reference);

// Runs every prompt through both models (tokens from `model`'s tokenizer; the same ids go to both)
// and compares them. Each prompt's reference patterns are held while the model's arrive layer by
// layer (RunOptions::capture_sink), so memory is one run's patterns of one prompt plus both logits.
// Errors: check_same_model's; InvalidArgument for no prompts, an empty prompt, a bad layer.
FidelityReport compare_fidelity(const Model& model, const Model& reference, const std::vector<std::string>& texts,
                                const FidelityOptions& options = {});
FidelityReport compare_fidelity(const Model& model, const Model& reference,
                                const std::vector<std::vector<int32_t>>& ids, const FidelityOptions& options = {});

// Jensen-Shannon divergence (nats) of two distributions of n values each (Lin 1991); 0 * log 0 = 0.
double js_divergence(const float* a, const float* b, int64_t n);

// The precision a model runs at, and whether it is lossy: bfloat16 products over weights that are
// not all F32, or weights stored in a quantised type (what the file holds, whatever the dtype).
struct PrecisionPath {
  std::string compute_dtype;              // Model::dtype()
  std::vector<std::string> stored_types;  // matrix types in the file(s), sorted: "F32", "Q4_K", ...
  bool quantised = false;                 // a stored type with fewer than 16 bits a weight
  bool lossy = false;
};
PrecisionPath precision_path(const Model& model);
// One line for a report ("bfloat16 products on Q4_K/Q6_K weights"), and the warning heads,
// induction and scan print when the path is lossy (nullopt when it is not): names the path and
// points to `attnscope fidelity`.
std::string describe_precision_path(const PrecisionPath& path);
std::optional<std::string> lossy_path_warning(const Model& model);

// ---- output ---------------------------------------------------------------------------------

// Table: prompts, then the `top` worst heads by `sort_key` (0: all) with direction stated. Json /
// Csv: every head (CSV one row per head; prompt figures only in Table and Json).
std::string format_fidelity(const FidelityReport& report, ReportFormat format, const std::string& sort_key = "js_mean",
                            int top = 10);
// layers x heads figures (PNG/SVG/PDF by extension): max |dpattern|, mean JS divergence and the
// largest |change| of any score. Returns the files written.
std::vector<std::string> save_fidelity_figure(const std::string& path, const FidelityReport& report);

}  // namespace attnscope
