// The parts of a forward pass every architecture shares: token lookup and explicit causal
// self-attention whose softmax buffer is the one hooked, captured and multiplied with V.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/tensor.h"
#include "attnscope/trace.h"
#include "model/hooks.h"
#include "model/kv_cache.h"
#include "model/ragged.h"
#include "model/weights.h"

namespace attnscope::detail {

// Rows of `table` [V, D] for each id into a new [B, T, D] tensor; InvalidArgument for rows of
// unequal length or an id outside [0, V).
Tensor embed_tokens(const std::vector<std::vector<int32_t>>& ids, const StoredWeight& table);

// Everything that happens to raw scores q.k before the softmax, in one place: multiply by
// a.scale, soft-cap (a.softcap * tanh(s / a.softcap)), and mask with -inf every key a query may
// not see: later keys (causal), with a window keys at or before query position - a.window, and in
// a ragged batch (spans, no cache) every key model/ragged.h's key_visible() hides (pads).
// scores is [B, H, T, Tk] for queries at absolute positions n_past .. n_past + T - 1.
void scale_cap_mask(float* scores, int64_t B, int64_t H, int64_t T, int64_t Tk, int64_t n_past, const AttentionDesc& a,
                    const RowSpans* spans = nullptr);

// Query rows per attention block: `rows` (> 0; tests use it to cut tiny prompts into many blocks)
// or 0, chosen by size (the default).
void set_attention_block_rows(int64_t rows);

// One layer's attention from its (normed, rotated) q [B, T, H, Dh] and k, v [B, T, Hkv, Dh]:
// appends k, v to `cache` (when given) at n_past, computes the scores and scale_cap_mask()
// (hook_attn_scores: the softmax input), softmax (hook_pattern), z = pattern · V (hook_z), and the
// output projection with its bias (per-head hook_result only when that hook is active). Grouped
// heads share their kv head without copies. Returns [B, T, D] (before any post-norm).
// The whole [B, H, T, Tk] scores/pattern exist only while a hook on them is active; otherwise
// attention runs in row blocks (the hooks' observer sees each, see PatternObserver in trace.h).
Tensor attention(int layer, const LayerWeights& w, const Tensor& q, const Tensor& k, const Tensor& v, KVCache* cache,
                 int64_t n_past, const RowSpans* spans, const HookRunner& hooks, Trace& out);

}  // namespace attnscope::detail
