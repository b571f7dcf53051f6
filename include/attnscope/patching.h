// Exact activation patching sweeps (TransformerLens' transformer_lens.patching, same function
// names and result layouts) and path patching (Wang et al. 2022, "Interpretability in the Wild:
// a Circuit for Indirect Object Identification in GPT-2 small", section 3.1 and appendix B).
//
// Activation patching, as TransformerLens: run the CORRUPTED prompt, overwrite one component
// (a residual position, an attention or MLP output, one head at one or all positions, one
// attention-pattern entry ...) with its value on the CLEAN prompt, and report metric(patched
// logits). Each entry of a sweep is one such run. The clean and corrupted prompts must have the
// same number of tokens (positions line up one to one).
//
// How it is computed: the clean and corrupted runs are made once per hook point swept; every
// patched run then starts at the patched layer from the corrupted run's blocks.L.hook_resid_pre
// (RunOptions::start_at_layer: the layers before it see nothing of the patch), and the runs of
// one layer are the rows of one batch (Model::run_batch). The result equals one full forward
// pass per entry with iv::replace_with at that component, to float rounding (tested).
//
//   auto metric = patching::logit_diff(model.to_single_token(" Mary"), model.to_single_token(" John"));
//   Tensor heads = patching::get_act_patch_attn_head_out_all_pos(model, corrupted_ids, clean_ids, metric);
//   // heads: [n_layers, n_heads]
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attnscope/tensor.h"

namespace attnscope {

class Model;

namespace patching {

// ---- metrics ---------------------------------------------------------------------------------
// A scalar of one run's logits. Built in (all at `position`, -1: the last; units: logits, or
// nats for log_prob): logit_diff = logit[answer] - logit[wrong], logit = logit[token], log_prob =
// log softmax[token]. custom: any function of the run's logits [1, T, V] (TransformerLens'
// patching_metric gets [batch, pos, d_vocab]; here batch is always 1).
struct Metric {
  enum class Kind { LogitDiff, Logit, LogProb, Custom };
  Kind kind = Kind::LogitDiff;
  int32_t answer = -1, wrong = -1;
  int position = -1;
  std::function<double(const Tensor& logits)> fn;  // Custom only
  std::string description;                         // "logit_diff(12, 7) at -1"
};
Metric logit_diff(int32_t answer, int32_t wrong, int position = -1);
Metric logit(int32_t token, int position = -1);
Metric log_prob(int32_t token, int position = -1);
Metric custom(std::function<double(const Tensor& logits)> fn, std::string description = "custom");
// The metric of logits [B, T, V] (or [B, 1, V] holding only the last position when the metric
// reads the last one), batch row `row`. InvalidArgument for a token outside the vocabulary or a
// position outside the run.
double evaluate(const Metric& metric, const Tensor& logits, int64_t row = 0);

struct Options {
  // TransformerLens' normalised form: (patched - corrupted) / (clean - corrupted), so 1 means the
  // component restores the whole clean behaviour and 0 none. InvalidArgument when clean and
  // corrupted metrics are equal.
  bool normalize = false;
  int max_batch = 16;  // patched runs per forward pass (rows of one batch); >= 1
};

// ---- sweeps ----------------------------------------------------------------------------------
// What each sweep patches and the layout of its result (TransformerLens' names):
//   ResidPre          blocks.L.hook_resid_pre at one position            [n_layers, pos]
//   ResidMid          blocks.L.hook_resid_mid (not with a parallel residual)  [n_layers, pos]
//   AttnOut, MlpOut   blocks.L.hook_attn_out / hook_mlp_out at one position    [n_layers, pos]
//   HeadOutByPos      blocks.L.attn.hook_z of one head at one position    [n_layers, pos, n_heads]
//   HeadOutAllPos     ... of one head at every position                   [n_layers, n_heads]
//   HeadQ|K|VByPos    blocks.L.attn.hook_q|k|v                            [n_layers, pos, heads]
//   HeadQ|K|VAllPos                                                       [n_layers, heads]
//   HeadPatternByPos  blocks.L.attn.hook_pattern, one head's row for one destination
//                     (query) position                                    [n_layers, n_heads, dest_pos]
//   HeadPatternAllPos one head's whole pattern                            [n_layers, n_heads]
//   HeadPatternDestSrcPos  one entry (dest, src)        [n_layers, n_heads, dest_pos, src_pos]
//   BlockEvery        ResidPre, AttnOut, MlpOut stacked                   [3, n_layers, pos]
//   HeadAllPosEvery   out, q, k, v, pattern (all positions) stacked       [5, n_layers, n_heads]
//   HeadByPosEvery    out, q, k, v, pattern by position stacked           [5, n_layers, pos, n_heads]
// q/k/v: hook_q before the q/k norm and RoPE (as TransformerLens). Under grouped-query attention
// hook_k / hook_v hold n_head_kv key/value heads, each read by n_head / n_head_kv query heads, so
// the k and v sweeps index key/value heads ("heads" above is n_head_kv for them) and the *Every
// stacks, which need one head count, are InvalidArgument on such a model.
// Pattern entries with src > dest are masked (0 on both runs): patching them changes nothing, so
// those entries are the corrupted metric without a run.
enum class Sweep {
  ResidPre,
  ResidMid,
  AttnOut,
  MlpOut,
  HeadOutByPos,
  HeadOutAllPos,
  HeadQByPos,
  HeadQAllPos,
  HeadKByPos,
  HeadKAllPos,
  HeadVByPos,
  HeadVAllPos,
  HeadPatternByPos,
  HeadPatternAllPos,
  HeadPatternDestSrcPos,
  BlockEvery,
  HeadAllPosEvery,
  HeadByPosEvery,
};
// "resid_pre", "attn_head_out_by_pos", ...: TransformerLens' function name without
// "get_act_patch_"; sweep_from_name also takes the CLI's short names (heads = attn_head_out_all_pos,
// heads-by-pos = attn_head_out_by_pos, resid = resid_pre, attn-out, mlp-out, pattern =
// attn_head_pattern_by_pos, and '-' for '_'). InvalidArgument naming the choices otherwise.
std::string sweep_name(Sweep s);
Sweep sweep_from_name(const std::string& name);
std::vector<std::string> sweep_names();

struct Result {
  std::string sweep;                              // sweep_name()
  Tensor values;                                  // layout above
  std::vector<std::string> axes;                  // "component", "layer", "pos", "head", "dest_pos", "src_pos"
  std::vector<std::string> components;            // *Every: the stacked sweeps' names, else empty
  double clean_metric = 0, corrupted_metric = 0;  // unpatched runs (never normalised)
  bool normalized = false;
  int forward_passes = 0;       // patched passes run by this sweep (batched rows count once)
  int patched_runs = 0;         // entries computed by a run
  std::string to_json() const;  // {"sweep", "axes", "shape", "values" (nested), "clean_metric", ...}
  std::string to_csv() const;   // one row per entry: the axes' indices, then value
};

// Holds the model, both prompts and the metric, and the clean / corrupted runs' captures (each
// hook point captured once, the first time a sweep needs it), so several sweeps share them.
class ActivationPatcher {
 public:
  // InvalidArgument for empty prompts or prompts of different lengths, or a bad metric.
  ActivationPatcher(const Model& model, std::vector<int32_t> clean, std::vector<int32_t> corrupted, Metric metric,
                    Options options = {});
  ~ActivationPatcher();
  ActivationPatcher(ActivationPatcher&&) noexcept;
  double clean_metric() const;
  double corrupted_metric() const;
  Result run(Sweep sweep);

  struct State;

 private:
  std::unique_ptr<State> s_;
};

// One-call forms with TransformerLens' names (argument order as TransformerLens: corrupted
// tokens, then the clean side), each returning the values of the sweep above.
Tensor get_act_patch_resid_pre(const Model& model, const std::vector<int32_t>& corrupted,
                               const std::vector<int32_t>& clean, const Metric& metric, Options options = {});
Tensor get_act_patch_resid_mid(const Model& model, const std::vector<int32_t>& corrupted,
                               const std::vector<int32_t>& clean, const Metric& metric, Options options = {});
Tensor get_act_patch_attn_out(const Model& model, const std::vector<int32_t>& corrupted,
                              const std::vector<int32_t>& clean, const Metric& metric, Options options = {});
Tensor get_act_patch_mlp_out(const Model& model, const std::vector<int32_t>& corrupted,
                             const std::vector<int32_t>& clean, const Metric& metric, Options options = {});
Tensor get_act_patch_attn_head_out_by_pos(const Model& model, const std::vector<int32_t>& corrupted,
                                          const std::vector<int32_t>& clean, const Metric& metric,
                                          Options options = {});
Tensor get_act_patch_attn_head_out_all_pos(const Model& model, const std::vector<int32_t>& corrupted,
                                           const std::vector<int32_t>& clean, const Metric& metric,
                                           Options options = {});
Tensor get_act_patch_attn_head_pattern_by_pos(const Model& model, const std::vector<int32_t>& corrupted,
                                              const std::vector<int32_t>& clean, const Metric& metric,
                                              Options options = {});
Tensor get_act_patch_attn_head_pattern_dest_src_pos(const Model& model, const std::vector<int32_t>& corrupted,
                                                    const std::vector<int32_t>& clean, const Metric& metric,
                                                    Options options = {});
Tensor get_act_patch_block_every(const Model& model, const std::vector<int32_t>& corrupted,
                                 const std::vector<int32_t>& clean, const Metric& metric, Options options = {});
Tensor get_act_patch_attn_head_all_pos_every(const Model& model, const std::vector<int32_t>& corrupted,
                                             const std::vector<int32_t>& clean, const Metric& metric,
                                             Options options = {});
// Any sweep by value (the q/k/v variants, by_pos_every, ...).
Result get_act_patch(const Model& model, Sweep sweep, const std::vector<int32_t>& corrupted,
                     const std::vector<int32_t>& clean, const Metric& metric, Options options = {});

// ---- path patching (Wang et al. 2022) --------------------------------------------------------
// A head: (layer, query head).
using Head = std::pair<int, int>;
// Which inputs of the receiver heads take the senders' change: any of 'q', 'k', 'v' ("qkv": all).
// Under grouped-query attention a receiver's k / v are its key/value head's, shared with the
// other query heads of its group: patching them reaches those heads too.
struct PathOptions {
  std::string receiver_inputs = "q";
  // (patched - clean) / (clean - corrupted): 0 when the path carries nothing, -1 when it carries
  // the whole corrupted change (the IOI paper's "percent change of the logit difference").
  bool normalize = false;
};
// The paper's three steps on the CLEAN prompt (x_orig; CORRUPTED is x_new):
//   1. capture every head's output (blocks.L.attn.hook_z) on both prompts;
//   2. run clean with the senders' hook_z set to their corrupted values and every other head's
//      hook_z frozen to its clean value (MLPs recomputed), and record the receivers' q / k / v
//      (blocks.L.attn.hook_q|k|v);
//   3. run clean with only the receivers' chosen inputs set to the values of step 2, and report
//      metric(logits).
// Empty `receivers`: the path to the logits, i.e. metric of step 2's run itself. A sender at or
// after its receivers' layer changes nothing (result = the clean metric). InvalidArgument for a
// head outside the model, empty senders, or prompts of different lengths.
double path_patch(const Model& model, const std::vector<int32_t>& clean, const std::vector<int32_t>& corrupted,
                  const std::vector<Head>& senders, const std::vector<Head>& receivers, const Metric& metric,
                  const PathOptions& options = {});
// Every head as the lone sender in turn: [n_layers, n_heads]. Senders at or after the first
// receiver layer get the clean metric (normalised: 0) without a run.
Tensor path_patch_sweep(const Model& model, const std::vector<int32_t>& clean, const std::vector<int32_t>& corrupted,
                        const std::vector<Head>& receivers, const Metric& metric, const PathOptions& options = {});

}  // namespace patching
}  // namespace attnscope
