// Beyond attention weights: what a head moves (value-weighted attention), what it writes into the
// logits (direct logit attribution), which later heads read it (composition scores), and how
// attention accumulates across layers (rollout and flow). Names follow TransformerLens where it
// has one (get_full_resid_decomposition, apply_ln_to_stack, logit_attrs, all_composition_scores).
//
// Conventions: heads are (layer, head); head h of a grouped-query model reads kv head
// h / (n_head / n_head_kv). Matrices are in TransformerLens' row-vector orientation
// (q = x W_Q + b_Q, W_Q [d_model, d_head], W_O [d_head, d_model]).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/tensor.h"
#include "attnscope/trace.h"
#include "attnscope/viz.h"

namespace attnscope {

class Model;

// ---- value-weighted attention (Kobayashi et al. 2020, "Attention is Not Only a Weight") ------
//
// For head h, query i and key j: ||alpha_ij f_h(x_j)||, where f_h(x_j) = v_j W_O^h is what key j
// would write into the residual stream through that head (v_j = x_j W_V + b_V after the layer's
// norm, from hook_v of the same forward pass; W_O^h is the head's slice of the output projection,
// its bias excluded because it does not depend on j). Units: residual-stream norm. Where the
// attention output is normalised before it joins the stream (Gemma 2/3, OLMo-2:
// post_attention_layernorm), f_h includes that RMSNorm with its scale frozen per query (from the
// layer's whole output, hook_z W_O + b_O): f_h(x_j) = (v_j W_O^h) * w_post / rms(out_i), so hook_z
// is captured too; the normalized form does not depend on the frozen scale.

// The hook points value_weighted_patterns needs for `layers` (empty: all):
// blocks.L.attn.hook_pattern and blocks.L.attn.hook_v (and blocks.L.attn.hook_z with a
// post-attention norm).
std::vector<std::string> value_weighted_hooks(const Model& model, const std::vector<int>& layers = {});
// ||f_h(x_j)|| per layer: [B, H, K] (with a post-attention norm: its weight applied, not its
// per-query scale). NotFound naming the hook if hook_v was not captured.
std::map<int, Tensor> value_vector_norms(const Model& model, const Trace& trace);
// layer -> [B, H, Q, K] for every layer whose hook_pattern and hook_v the trace captured.
// normalized = false: the raw norms ||alpha_ij f_h(x_j)||. normalized = true: each row divided by
// its sum, so it is a distribution over keys like the attention weights (Kobayashi's share of
// the contribution norm; a row whose head writes nothing (all norms 0) stays all 0). The
// detectors score the normalized form.
std::map<int, Tensor> value_weighted_patterns(const Model& model, const Trace& trace, bool normalized = false);
// One forward pass of `ids` capturing pattern and v for `layers` (empty: all).
std::map<int, Tensor> value_weighted_patterns(const Model& model, const std::vector<int32_t>& ids,
                                              bool normalized = false, const std::vector<int>& layers = {});

// ---- direct logit attribution --------------------------------------------------------------
//
// The final residual stream is a sum of parts: the token embedding (and GPT-2's position
// embedding), each head's output through W_O (hook_result), each layer's attention-output bias,
// each MLP's output. With the final norm's scale frozen at its value on the clean run (as
// TransformerLens' apply_ln_to_stack does: RMSNorm 1/sqrt(mean(x^2) + eps), LayerNorm centring and
// 1/sqrt(var(x) + eps) of the full residual) every part maps linearly to the logits, and the
// parts' logits add up to the model's logit (plus the final LayerNorm's bias term, reported as its
// own part "ln_final.b"). Gemma 2/3 and OLMo-2 also normalise each attention output before adding
// it (post_attention_layernorm): a head's part is its hook_result through that RMSNorm with the
// scale frozen at its value on the layer's whole output, so the layer's head parts add up to its
// hook_attn_out. Gemma 2's final logit soft-cap (cap * tanh(z / cap)) is not linear: the parts add
// up to z, the logit before the cap, and that is the logit reported.

// Every additive part of the final residual stream of one batch row.
struct ResidStack {
  Tensor stack;                     // [C, T, D]: component, position, d_model
  std::vector<std::string> labels;  // "embed", "pos_embed", "L0H0".."L{l}H{h}", "{l}_attn_bias",
                                    // "{l}_mlp_out" (in forward order, heads before their layer's bias and MLP)
};
// Hook points get_full_resid_decomposition needs (hook_embed, hook_pos_embed for GPT-2,
// every layer's attn.hook_result and hook_mlp_out, and the last layer's hook_resid_post).
std::vector<std::string> resid_decomposition_hooks(const Model& model);
// NotFound naming the missing hook if the trace lacks one; InvalidArgument for a bad batch.
ResidStack get_full_resid_decomposition(const Model& model, const Trace& trace, int batch = 0);
// Each part through the final norm with the scale frozen from the clean final residual stream
// of `trace` (and the norm weight applied; the LayerNorm bias is not added): [C, T, D] -> [C, T,
// D].
Tensor apply_ln_to_stack(const Model& model, const Trace& trace, const Tensor& stack, int batch = 0);
// Logit of `token` (minus the logit of `minus` when given) of each part: normalized stack
// [C, T, D] -> [C, T]. Units: logits.
Tensor logit_attrs(const Model& model, const Tensor& normalized_stack, int32_t token,
                   std::optional<int32_t> minus = std::nullopt);
// The same with one target per position (tokens.size() == T; as TransformerLens' [pos] tokens),
// e.g. each position's actual next token or its top prediction. minus: empty, or one per position.
Tensor logit_attrs(const Model& model, const Tensor& normalized_stack, const std::vector<int32_t>& tokens,
                   const std::vector<int32_t>& minus = {});

struct DirectLogitAttribution {
  int32_t token = -1;
  std::optional<int32_t> minus;         // logit difference token - minus when set
  std::vector<int> positions;           // query positions (absolute)
  std::vector<std::string> labels;      // parts, as ResidStack::labels (+ "ln_final.b" for LayerNorm)
  Tensor attribution;                   // [P, C] logits
  Tensor heads;                         // [P, L, H] the head parts of `attribution`
  Tensor mlp;                           // [P, L]
  std::vector<double> logit;            // [P] the model's own logit (difference) at each position,
                                        // before a final soft-cap (Gemma 2)
  std::vector<std::string> str_tokens;  // of the run (empty without a tokenizer)
  int n_layers = 0, n_heads = 0;
};
// One forward pass of `ids`; positions: query positions (negative count from the end; empty:
// the last). InvalidArgument for a bad position or token.
DirectLogitAttribution direct_logit_attribution(const Model& model, const std::vector<int32_t>& ids, int32_t token,
                                                std::optional<int32_t> minus = std::nullopt,
                                                const std::vector<int>& positions = {});

// ---- composition scores (Elhage et al. 2021, "A Mathematical Framework for Transformer Circuits")
//
// For an earlier head A and a later head B: ||W_OV^A M^B||_F / (||W_OV^A||_F ||M^B||_F) with
// M^B = W_QK^B (Q-composition: A's output feeds B's queries), (W_QK^B)^T (K-composition: B's keys)
// or W_OV^B (V-composition), where W_QK = W_Q W_K^T and W_OV = W_V W_O are [d_model, d_model].
// Folding: the later layer's pre-attention norm weight is folded into its reading side
// (W_Q, W_K, W_V <- diag(w_ln) W), as the paper folds LayerNorm (OLMo-2 has no such norm: nothing
// to fold); for LayerNorm models the writing side W_O is centred (its mean over d_model removed,
// which LayerNorm's centring would undo anyway). The RMSNorms of q and k after the projection
// (Qwen3, Gemma 3 per head, OLMo-2 across heads) fold into W_Q and W_K (W_Q <- W_Q diag(w_q)),
// and the norm on the attention output (Gemma 2/3, OLMo-2) into the writing side
// (W_O <- W_O diag(w_post)). Every norm's scale 1/rms is a per-token scalar and drops out of the
// ratio. Biases (q/k/v, o) are affine offsets outside the bilinear/linear maps and are not part of
// W_QK or W_OV, as in TransformerLens. RoPE is position-dependent and not part of W_QK. A head
// whose matrix is zero scores 0. Scores lie in [0, 1].
enum class CompositionKind { Q, K, V };
const char* composition_kind_name(CompositionKind kind);  // "Q", "K", "V"

// [L, H, L, H]: entry (l1, h1, l2, h2) is the composition of (l1, h1) into (l2, h2); 0 unless l1 <
// l2.
Tensor all_composition_scores(const Model& model, CompositionKind kind);

struct CompositionEdge {
  int src_layer = 0, src_head = 0, dst_layer = 0, dst_head = 0;
  CompositionKind kind = CompositionKind::K;
  double score = 0;
};
struct CompositionScores {
  Tensor q, k, v;  // [L, H, L, H] each
  const Tensor& of(CompositionKind kind) const;
  // The n strongest edges (all kinds, or one), best first; into / out of one head when given.
  std::vector<CompositionEdge> top_edges(int n, std::optional<CompositionKind> kind = std::nullopt,
                                         std::optional<std::pair<int, int>> into = std::nullopt,
                                         std::optional<std::pair<int, int>> out_of = std::nullopt) const;
};
CompositionScores composition_scores(const Model& model);

// ---- attention rollout and flow (Abnar & Zuidema 2020, "Quantifying Attention Flow") -----------
//
// Per layer, the head-averaged pattern with the residual connection added and rows renormalised:
// A~_l = 0.5 mean_h(A_l) + 0.5 I. patterns: layer -> [B, H, T, T] for layers 0..L-1 (all of them,
// contiguous from 0); InvalidArgument otherwise.

// [L, T, T]: entry (l, i, j) is how much of query i's representation after layer l comes from input
// token j: A~_l A~_{l-1} ... A~_0. Rows sum to 1.
Tensor attention_rollout(const std::map<int, Tensor>& patterns, int batch = 0);
// [Q, T]: for each query position in `queries` (empty: all), the maximum flow from that position
// at the top of the network to each input token j, in the layered graph whose edges (l+1, i) ->
// (l, j) have capacity A~_l[i, j] (Abnar & Zuidema's attention flow). Values in [0, 1].
Tensor attention_flow(const std::map<int, Tensor>& patterns, const std::vector<int>& queries = {}, int batch = 0);

// ---- the explorer's views -----------------------------------------------------------------------

// One forward pass of `ids`: value-weighted patterns (normalised) of the layers in `patterns`,
// rollout over all layers, direct logit attribution of every head at every position for two
// targets (the model's top prediction and the actual next token), and the strongest composition
// edges into and out of every head (skipped above 1024 heads, where the weight products get
// slow). Pass the result as ExplorerOptions::analysis.
ExplorerAnalysis explorer_analysis(const Model& model, const std::vector<int32_t>& ids,
                                   const std::map<int, Tensor>& patterns);

}  // namespace attnscope
