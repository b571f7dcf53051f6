// The weights a forward pass uses, bound once at load (src/model/bind.cpp) into per-layer structs
// of pointers, so the forward never looks a weight up by name. Storage stays in Model::Impl (one
// container per weight); these structs only point into it, and they are the only way the forward
// and the analysis code reach a weight.
//
// Matrices are StoredWeights in the type they are stored in (F32 for the float32 dtype), multiplied
// with linear() of src/tensor/stored_weight.h in the precision they were bound with
// (StoredWeight::compute) or read a row at a time (embeddings); vectors (norms, biases) are
// float32 Tensors.
#pragma once
#include <cstdint>
#include <vector>

#include "attnscope/tensor.h"
#include "tensor/stored_weight.h"

namespace attnscope::detail {

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
  const StoredWeight *wq = nullptr, *wk = nullptr, *wv = nullptr, *wo = nullptr;
  const Tensor *bq = nullptr, *bk = nullptr, *bv = nullptr, *bo = nullptr;
  // MLP: gated (gate, up, down) or plain (up, down)
  const StoredWeight *gate = nullptr, *up = nullptr, *down = nullptr;
  const Tensor *b_up = nullptr, *b_down = nullptr;
  AttentionDesc attn;
};

struct ModelWeights {
  const StoredWeight* token_embd = nullptr;     // [V, D] (rows looked up, decoded; tied: also the head)
  const StoredWeight* position_embd = nullptr;  // [n_ctx, D] (learned positions; rows looked up, decoded)
  const Tensor *output_norm = nullptr, *output_norm_b = nullptr;
  const StoredWeight* output = nullptr;  // [V, D]: output.weight or, tied, token_embd.weight
  std::vector<LayerWeights> layers;
};

}  // namespace attnscope::detail
