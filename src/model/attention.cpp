#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "attnscope/error.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"
#include "tensor/softmax_kernels.h"

namespace attnscope::detail {

Tensor embed_tokens(const std::vector<std::vector<int32_t>>& ids, const StoredWeight& table) {
  const int64_t B = static_cast<int64_t>(ids.size());
  if (B == 0 || ids[0].empty()) fail(ErrorKind::InvalidArgument, "forward pass over an empty batch");
  const int64_t T = static_cast<int64_t>(ids[0].size());
  const int64_t V = table.dim(0), D = table.dim(1);
  Tensor x({B, T, D});
  for (int64_t b = 0; b < B; ++b) {
    if (static_cast<int64_t>(ids[b].size()) != T)
      fail(ErrorKind::InvalidArgument,
           "batch rows differ in length (" + std::to_string(ids[b].size()) + " vs " + std::to_string(T) + ")");
    for (int64_t t = 0; t < T; ++t) {
      const int32_t id = ids[b][t];
      if (id < 0 || id >= V)
        fail(ErrorKind::InvalidArgument, "token id " + std::to_string(id) + " at position " + std::to_string(t) +
                                             " is outside the vocabulary [0, " + std::to_string(V) + ")");
      table.dequantize_rows(id, 1, x.data() + (b * T + t) * D);  // F32: a plain copy
    }
  }
  return x;
}

void scale_cap_mask(float* scores, int64_t B, int64_t H, int64_t T, int64_t Tk, int64_t n_past, const AttentionDesc& a,
                    const RowSpans* spans) {
  if (spans && n_past != 0) fail(ErrorKind::InvalidArgument, "a ragged batch cannot continue a KV cache");
  const float ninf = -std::numeric_limits<float>::infinity();
  const float scale = a.scale, cap = a.softcap;
  const int64_t window = a.window;
  ops::parallel_for(B * H * T, std::max<int64_t>(1, 16384 / std::max<int64_t>(Tk, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* row = scores + r * Tk;
      const int64_t pos = n_past + r % T;  // this query's absolute position
      const int64_t first = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
      const int64_t last = std::min(pos, Tk - 1);
      for (int64_t j = 0; j < first && j < Tk; ++j) row[j] = ninf;
      for (int64_t j = first; j <= last; ++j) {
        float s = row[j] * scale;
        if (cap > 0) s = cap * std::tanh(s / cap);
        row[j] = s;
      }
      for (int64_t j = last + 1; j < Tk; ++j) row[j] = ninf;
      if (spans) {  // ragged batch: hide the pads of this row (b = r / (H * T), query i = r % T)
        const int64_t b = r / (H * T), i = r % T;
        for (int64_t j = 0; j < Tk; ++j)
          if (!key_visible(*spans, b, i, j)) row[j] = ninf;
      }
    }
  });
}

Tensor attention(int l, const LayerWeights& w, const Tensor& q, const Tensor& k, const Tensor& v, KVCache* cache,
                 int64_t n_past, const RowSpans* spans, const HookRunner& hooks, Trace& out) {
  const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), Dh = q.dim(3), Hkv = k.dim(2);
  const int64_t G = H / Hkv, N = B * T, Tk = n_past + T;
  const StoredWeight& wo = *w.wo;  // [D, H*Dh]
  const int64_t D = wo.dim(0);

  // Keys/values attended to: this call's, or the cache's (which now gets this call's appended;
  // read back from the cache so that a bfloat16 cache's rounding applies to every key, see
  // model/kv_cache.h).
  const float* kd = k.data();
  const float* vd = v.data();
  int64_t kv_batch_stride = T * Hkv * Dh;
  KVCache::Rows cached_k, cached_v;
  if (cache) {
    cache->store(l, k, v, n_past);
    cached_k = cache->keys(l, Tk);
    cached_v = cache->values(l, Tk);
    kd = cached_k.data;
    vd = cached_v.data;
    kv_batch_stride = cached_k.batch_stride;
  }

  // scores[b, h, i, j] = q[b, i, h] . k[b, j, h / G], seen as [B, Hkv, G, T, Dh] x [B, Hkv, 1, Dh, Tk]
  // so that grouped heads share their kv head without copies.
  Tensor scores = Tensor::uninitialized({B, H, T, Tk});  // matmul outputs are written in full
  ops::matmul({{B, Hkv, G, T, Dh}, {T * H * Dh, G * Dh, Dh, H * Dh, 1}}, q.data(),
              {{B, Hkv, 1, Dh, Tk}, {kv_batch_stride, Dh, 1, 1, Hkv * Dh}}, kd, {{B, Hkv, G, T, Tk}, {}},
              scores.data());
  scale_cap_mask(scores.data(), B, H, T, Tk, n_past, w.attn, spans);
  hooks.at(HookPoint::AttnScores, l, scores, out);
  if (w.attn.fast_exp)
    kernels::softmax_rows_fast(scores.data(), B * H * T, Tk);  // vectorised exp (bfloat16 dtype)
  else
    ops::softmax_rows(scores.data(), B * H * T, Tk);
  Tensor& pattern = scores;  // the softmax buffer: hooked, captured and multiplied with V
  hooks.at(HookPoint::AttnPattern, l, pattern, out, true);

  // z[b, i, h] = sum_j pattern[b, h, i, j] v[b, j, h / G]
  Tensor z = Tensor::uninitialized({B, T, H, Dh});
  ops::matmul({{B, Hkv, G, T, Tk}, {}}, pattern.data(), {{B, Hkv, 1, Tk, Dh}, {kv_batch_stride, Dh, 1, Hkv * Dh, 1}},
              vd, {{B, Hkv, G, T, Dh}, {T * H * Dh, G * Dh, Dh, H * Dh, 1}}, z.data());
  hooks.at(HookPoint::AttnZ, l, z, out, true);

  Tensor attn_out = Tensor::uninitialized({B, T, D});  // written by the product or zeroed below
  if (hooks.active(HookPoint::AttnResult, l)) {
    // Each head's contribution through the output projection (z with the other heads zeroed),
    // then their sum is the attention output.
    Tensor result({B, T, H, D});
    Tensor zh({N, H * Dh});
    Tensor rh({N, D});
    for (int64_t hh = 0; hh < H; ++hh) {
      std::fill(zh.data(), zh.data() + zh.numel(), 0.0f);
      for (int64_t n = 0; n < N; ++n)
        std::memcpy(zh.data() + n * H * Dh + hh * Dh, z.data() + n * H * Dh + hh * Dh, sizeof(float) * Dh);
      linear(zh.data(), N, wo, nullptr, rh.data(), false, wo.compute);
      for (int64_t n = 0; n < N; ++n)
        std::memcpy(result.data() + (n * H + hh) * D, rh.data() + n * D, sizeof(float) * D);
    }
    hooks.at(HookPoint::AttnResult, l, result, out, true);
    const float* r = result.data();
    float* a = attn_out.data();
    std::fill(a, a + N * D, 0.0f);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t hh = 0; hh < H; ++hh) ops::add(a + n * D, r + (n * H + hh) * D, D);
  } else {
    linear(z.data(), N, wo, nullptr, attn_out.data(), false, wo.compute);
  }
  if (w.bo) ops::add_bias(attn_out.data(), w.bo->data(), N, D);
  return attn_out;
}

}  // namespace attnscope::detail
