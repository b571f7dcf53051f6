// The one place code outside the forward reads model weights: fp32 per-head matrices
// in TransformerLens' orientation (row vectors: q = x W_Q + b_Q, out = z W_O), read through the
// structs the model's weights are bound into (model/weights.h), so analysis sees the very weights
// the forward multiplies with, fused tensors already split and kv groups resolved. Stored
// (quantised, F16/BF16, MLX) matrices are decoded row by row as they are asked for and nothing
// decoded is kept: the caller holds what it keeps. Private to the library (analysis reads it).
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
// The same with the layer's output projection already decoded (attn_output_matrix): for callers
// that visit every head of a layer, so that it is decoded once per layer, not once per head.
HeadWeights head_weights(const Model& model, int layer, int head, const Tensor& attn_output);
// The norm before attention (ln1); a weight of ones when the layer has none (OLMo-2's attention
// reads the residual stream itself).
NormWeights attn_norm_weights(const Model& model, int layer);
// The RMSNorm on the attention output (Gemma 2/3, OLMo-2); w empty when the layer has none.
NormWeights post_attn_norm_weights(const Model& model, int layer);
NormWeights final_norm_weights(const Model& model);   // ln_final
Tensor attn_out_bias(const Model& model, int layer);  // [D], or empty (no bias)
// The output head's row for `token` [D] (the embedding's row when tied), that row alone decoded;
// InvalidArgument when the token is outside the vocabulary.
Tensor unembed_row(const Model& model, int32_t token);
// The output projection's [D, H*Dh] matrix of a layer (GGUF layout), for per-head value norms:
// a view of a float32 weight, else a decoded copy that lives as long as the caller keeps it.
Tensor attn_output_matrix(const Model& model, int layer);

}  // namespace attnscope::detail
