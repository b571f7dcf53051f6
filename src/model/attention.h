// The parts of a forward pass every architecture shares: token lookup, explicit causal
// self-attention whose softmax buffer is the one hooked, captured and multiplied with V, and the
// output head.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/tensor.h"
#include "attnscope/trace.h"
#include "model/hooks.h"
#include "model/kv_cache.h"
#include "model/model_impl.h"

namespace attnscope::detail {

// Rows of `table` [V, D] for each id into a new [B, T, D] tensor; InvalidArgument for rows of
// unequal length or an id outside [0, V).
Tensor embed_tokens(const std::vector<std::vector<int32_t>>& ids, const StoredWeight& table);

// One layer's attention from its projected (and rotated) q [B, T, H, Dh] and k, v [B, T, Hkv, Dh]:
// hooks q, k, v (hook_q|k|v), appends k, v to `cache` (when given) at n_past, computes scaled
// causal scores (hook_attn_scores), softmax (hook_pattern), z = pattern · V (hook_z), the output
// projection blk.L.attn_output (per-head hook_result only when that hook is active) and its bias
// if present, and hooks the result (hook_attn_out). Grouped heads share their kv head without
// copies. Returns [B, T, D].
Tensor attention(const Model::Impl& m, int layer, Tensor& q, Tensor& k, Tensor& v,
                 KVCache* cache, int64_t n_past, const HookRunner& hooks, Trace& out);

// The output head on the final normalised stream hn [B, T, D] into out.logits: [B, T, V] (the
// "logits" hook may intervene), or [B, 1, V] for the last position only when generation asks for
// it and no hook needs the rest. Skipped when nobody wants logits.
void output_logits(const Model::Impl& m, const ForwardInput& in, const Tensor& hn, const HookRunner& hooks,
                   Trace& out);

}  // namespace attnscope::detail
