// The weights a forward pass uses, bound once at load (src/model/bind.cpp) into per-layer structs
// of pointers, so the forward never looks a weight up by name. Storage stays in Model::Impl::weights
// under canonical (GGUF) names; these structs only point into it.
//
// Every matrix product with a weight goes through linear_weight() and every bound matrix has the
// type WeightMatrix: a weight kept in its stored precision (quantised) only has to change these two.
#pragma once
#include <cstdint>
#include <vector>

#include "attnscope/tensor.h"
#include "tensor/stored_weight.h"

namespace attnscope::detail {

// A [out, in] row-major weight matrix (nn.Linear / GGUF layout) in the type it is stored in
// (a float32 view for the float32 dtype), multiplied by the kernels of src/tensor/stored_weight.h.
using WeightMatrix = StoredWeight;

// y[rows, out] = x[rows, in] · W^T (+ bias[out]); accumulate adds into y. in/out come from W.
void linear_weight(const float* x, int64_t rows, const WeightMatrix& W, const Tensor* bias, float* y,
                   bool accumulate = false);

// How one layer attends: what the attention function (src/model/attention.cpp) needs besides the
// activations, including everything that masks. Filled from ModelConfig at bind time.
struct AttentionDesc {
  float scale = 1.0f;    // multiplies q.k
  float softcap = 0.0f;  // cap * tanh(s / cap) after scaling (0: off)
  int window = 0;        // a query at position p sees keys p - window < k <= p (0: all k <= p)
  // RoPE of this layer.
  int rope_dim = 0;
  float rope_base = 10000.0f;
  bool rope_scaled = true;  // apply the config's frequency factors (Gemma 3: global layers only)
  bool fast_exp = false;    // softmax with a vectorised exp (~1 ulp; the bfloat16 dtype)
};

struct LayerWeights {
  // norms (weight [D] and, for LayerNorm, bias [D]); the pre-norms are null without pre_norms
  const Tensor *attn_norm = nullptr, *attn_norm_b = nullptr;
  const Tensor *ffn_norm = nullptr, *ffn_norm_b = nullptr;
  const Tensor *post_attn_norm = nullptr, *post_ffn_norm = nullptr;
  const Tensor *q_norm = nullptr, *k_norm = nullptr;  // [Dh] (per head) or [H*Dh] / [Hkv*Dh] (full)
  // attention
  const WeightMatrix *wq = nullptr, *wk = nullptr, *wv = nullptr, *wo = nullptr;
  const Tensor *bq = nullptr, *bk = nullptr, *bv = nullptr, *bo = nullptr;
  // MLP: gated (gate, up, down) or plain (up, down)
  const WeightMatrix *gate = nullptr, *up = nullptr, *down = nullptr;
  const Tensor *b_up = nullptr, *b_down = nullptr;
  AttentionDesc attn;
};

struct ModelWeights {
  const WeightMatrix* token_embd = nullptr;  // [V, D] (rows looked up, decoded; tied: also the head)
  const Tensor* position_embd = nullptr;   // [n_ctx, D] (learned positions)
  const Tensor *output_norm = nullptr, *output_norm_b = nullptr;
  const WeightMatrix* output = nullptr;    // [V, D]: output.weight or, tied, token_embd.weight
  std::vector<LayerWeights> layers;
};

}  // namespace attnscope::detail
