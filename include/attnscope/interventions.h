// Interventions: ready-made edits of the values at hook points (zero, scale, steer, clamp, noise,
// replace, compose), head-level edits (ablate heads, set a head's pattern, patch heads from another
// trace) and the head-ablation sweep. They all produce attnscope::Intervention values for
// RunOptions::interventions; the forward pass applies them in forward order, before capture.
//
//   RunOptions opt;
//   opt.interventions.push_back(iv::on("model.model.layers.1.self_attn", iv::scale(0.5f)));
//   opt.interventions.push_back(iv::zero_ablate_heads(1, {3}));
//   Trace t = model.run("Once upon a time", opt);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/tensor.h"
#include "attnscope/trace.h"

namespace attnscope {

class Model;

namespace iv {

// A tensor edit with a human-readable description ("scale(0.5)"). Converts to InterventionFn.
struct Edit {
  InterventionFn fn;
  std::string description;
  operator InterventionFn() const { return fn; }  // NOLINT: implicit on purpose
};

// --- Edits that work on any hook point --------------------------------------------------------
Edit zero_out();
Edit scale(float factor);
// Adds `coeff * v` (steering). v's shape must equal the trailing dimensions of the value: [D]
// is broadcast over batch and positions of a [B, T, D] hook, [T, D] over the batch, [H, Dh] over
// batch and positions of hook_z, and so on.
Edit add_vector(Tensor v, float coeff = 1.0f);
// Clamps every element into [lo, hi] (lo <= hi).
Edit clamp(float lo, float hi);
// Adds Gaussian noise N(0, stddev^2). Reproducible: the stream depends only on `seed` and the hook
// name, so two runs with the same seed get the same noise and each hook point gets its own.
Edit noise(float stddev, uint64_t seed = 0);

// How replace_with lines up a replacement whose position axis (axis 1 of [B, T, ...]) is not as
// long as the value's: Exact demands equal shapes, Start copies positions 0.. min(T, T') - 1,
// End lines up the last positions (for prompts that differ in a prefix).
enum class Align { Exact, Start, End };
// Overwrites the value with `replacement` ([B, T, ...], or [T, ...] / [1, T, ...] broadcast over
// the batch). Align other than Exact is refused on [B, H, T, T] hooks (scores, pattern).
Edit replace_with(Tensor replacement, Align align = Align::Exact);
// Applies the edits in order.
Edit compose(std::vector<Edit> edits);
// Any callable, with a description for messages.
Edit custom(InterventionFn fn, std::string description = "custom");

// Binds an edit to a hook name, alias (e.g. "model.model.layers.8.self_attn") or glob.
// The target is canonicalised here (aliases resolved); a name that is neither a hook name, an
// alias nor a glob is a NotFound error at once. Model::run (and validate()) reject targets that
// match no hook point of the model, e.g. a layer it does not have.
Intervention on(const std::string& target, Edit edit);

// Checks every intervention's target against the model's hook points: NotFound (naming the
// target and a few valid names) if one matches nothing.
void validate(const Model& model, const std::vector<Intervention>& interventions);
// The hook names an intervention target matches among `hook_names`: a canonical name, an alias,
// or a glob over either ("model.layers.*.self_attn"); the same matcher Model::run uses.
std::vector<std::string> matching_hooks(const std::string& target, const std::vector<std::string>& hook_names);

// --- Head-level edits -------------------------------------------------------------------------
// Heads are query heads. They act on blocks.L.attn.hook_z ([B, T, H, Dh], one slice per query
// head), which is exact under grouped-query attention: ablating head h never touches the other
// heads that share its key/value head.

// Zeroes the outputs of `heads` of `layer` (every batch row).
Intervention zero_ablate_heads(int layer, std::vector<int> heads);
// Replaces the heads' outputs with a mean. `means` empty: the mean over batch and positions of
// this very run; [H, Dh]: a per-head mean (e.g. head_means() of a reference trace) used at every
// position; [T, H, Dh]: per position.
Intervention mean_ablate_heads(int layer, std::vector<int> heads, Tensor means = {});
// Mean of blocks.L.attn.hook_z over batch and positions: [H, Dh]. The trace must have captured it.
Tensor head_means(const Trace& trace, int layer);

// Sets head `head`'s attention pattern (blocks.L.attn.hook_pattern) before it multiplies V.
// pattern: [Tq, Tk] (every batch row) or [B, Tq, Tk]; e.g. another prompt's pattern of the same
// length, taken from its trace with head_pattern().
Intervention set_head_pattern(int layer, int head, Tensor pattern);
// Causal uniform attention: query q spreads weight 1/(n+1) over the n+1 keys it may see.
Intervention set_head_pattern_uniform(int layer, int head);
// The [B, Tq, Tk] pattern of one head out of a trace that captured blocks.L.attn.hook_pattern.
Tensor head_pattern(const Trace& trace, int layer, int head);

// Activation patching: overwrites the outputs of `heads` of `layer` with the same heads' values
// in `source` (a trace of another prompt of the same length that captured the hook). `hook` is
// "attn.hook_z" (default) or "attn.hook_result" ([B, T, H, D], per-head output through o_proj).
Intervention patch_heads(int layer, std::vector<int> heads, const Trace& source,
                         const std::string& hook = "attn.hook_z");
// Patches a whole hook point (any name or alias) from `source`.
Intervention patch_hook(const std::string& target, const Trace& source);

// Which axis of a canonical hook's value indexes query heads (hook_head_axis in hook_points.h): 1 for
// hook_attn_scores / hook_pattern ([B, H, T, T]), 2 for hook_q, its norm and rotation, hook_z and
// hook_result ([B, T, H, *]). InvalidArgument for any other hook (hook_k / hook_v index key/value
// heads, which are shared under GQA).
int head_axis(const std::string& canonical_hook);

}  // namespace iv

// --- Head-ablation sweep ----------------------------------------------------------------------

enum class AblationKind { Zero, Mean };

struct AblationSweepOptions {
  int32_t target = -1;                     // the token whose logit / probability is watched (required)
  int position = -1;                       // the position predicting it (-1: the last)
  AblationKind kind = AblationKind::Zero;  // Mean: the head's mean output over the prompt
  std::vector<int> layers;                 // restrict to these layers (empty: all)
  // Run each layer's heads as batch rows of one pass that starts from the cached residual stream
  // before the layer, instead of one full pass per head. Off: the plain (slow) reference way.
  bool reuse_prefix = true;
  int max_batch = 0;  // heads per pass when reusing the prefix (0: all heads of a layer)
};

struct HeadEffect {
  int layer = 0, head = 0;
  float logit = 0, prob = 0;              // of the target after ablating this head
  float delta_logit = 0, delta_prob = 0;  // ablated - clean
};

struct AblationSweepResult {
  int n_layer = 0, n_head = 0;
  int32_t target = -1;
  std::string target_str;  // empty without tokenizer
  int position = 0;
  AblationKind kind = AblationKind::Zero;
  float clean_logit = 0, clean_prob = 0;
  std::vector<HeadEffect> effects;  // row-major layers x heads (only swept layers present)
  int forward_passes = 0;           // passes run, the clean one included
  double seconds = 0;

  const HeadEffect& at(int layer, int head) const;  // NotFound for a layer that was not swept
  // Largest drop in the target's logit first.
  std::vector<HeadEffect> ranked() const;
  std::string to_json() const;  // {"target":..,"clean":{..},"delta_logit":[[..]],"delta_prob":..}
  std::string to_csv() const;   // layer,head,logit,prob,delta_logit,delta_prob
};

// Ablates each head in turn (zero or mean on hook_z) and reports the change of the target token's
// logit and probability at `position`.
AblationSweepResult head_ablation_sweep(const Model& model, const std::vector<int32_t>& ids,
                                        const AblationSweepOptions& options);

}  // namespace attnscope
