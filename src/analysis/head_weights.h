// The one place the analysis code reads model weights (CONTRACTS.md 4): fp32 per-head matrices
// in TransformerLens' orientation (row vectors: q = x W_Q + b_Q, out = z W_O), whatever layout a
// family stores them in (separate llama/qwen2 q/k/v, GPT-2's fused qkv, grouped kv heads). When
// src/model binds weights differently, only head_weights.cpp changes. Private to src/analysis.
//
// RoPE layout: GGUF llama q/k rows are in the interleaved layout; the same permutation applies to
// q and k, so W_Q W_K^T (all composition needs) does not depend on it. Rotations themselves are
// position-dependent and are not part of these weights.
#pragma once
#include <cstdint>

#include "attnscope/model.h"
#include "attnscope/tensor.h"

namespace attnscope::detail {

struct HeadWeights {
  int layer = 0, head = 0, kv_head = 0;  // kv_head = head / (n_head / n_head_kv)
  Tensor W_Q, W_K, W_V;                  // [D, Dh] each; K and V are the head's kv group's
  Tensor W_O;                            // [Dh, D]: the head's slice of the output projection
  Tensor b_Q, b_K, b_V;                  // [Dh], or empty when the model has no q/k/v biases
  // The RMSNorm weights q and k get after the projection, this head's [Dh] of them (Qwen3 and
  // Gemma 3 norm each head; OLMo-2 all heads at once: its slice of [H*Dh] / [Hkv*Dh]); empty
  // when the model has none.
  Tensor q_norm, k_norm;
};

// A norm's per-channel weight [D] and bias [D] (bias empty for RMSNorm).
struct NormWeights {
  Tensor w, b;
};

// InvalidArgument for a layer or head outside the model.
HeadWeights head_weights(const Model& model, int layer, int head);
// The norm before attention (ln1); a weight of ones when the layer has none (OLMo-2's attention
// reads the residual stream itself).
NormWeights attn_norm_weights(const Model& model, int layer);
// The RMSNorm on the attention output (Gemma 2/3, OLMo-2); w empty when the layer has none.
NormWeights post_attn_norm_weights(const Model& model, int layer);
NormWeights final_norm_weights(const Model& model);            // ln_final
Tensor attn_out_bias(const Model& model, int layer);           // [D], or empty (no bias)
// The output head's row for `token` [D] (the embedding's row when tied); InvalidArgument when
// the token is outside the vocabulary.
Tensor unembed_row(const Model& model, int32_t token);
// The output projection's [D, H*Dh] matrix of a layer (GGUF layout), for per-head value norms.
const Tensor& attn_output_matrix(const Model& model, int layer);

}  // namespace attnscope::detail
