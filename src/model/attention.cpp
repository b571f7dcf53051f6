#include "model/attention.h"

#include <algorithm>
#include <atomic>
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

namespace {

// scale_cap_mask for one score row of query `i` (index in this call) of sequence b: `n` keys
// given, queries at absolute position pos = n_past + i.
void scale_cap_mask_row(float* row, int64_t n, int64_t pos, int64_t b, int64_t i, const AttentionDesc& a,
                        const RowSpans* spans) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const int64_t first = a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0;
  const int64_t last = std::min(pos, n - 1);
  for (int64_t j = 0; j < first && j < n; ++j) row[j] = ninf;
  for (int64_t j = first; j <= last; ++j) {
    float s = row[j] * a.scale;
    if (a.softcap > 0) s = a.softcap * std::tanh(s / a.softcap);
    row[j] = s;
  }
  for (int64_t j = last + 1; j < n; ++j) row[j] = ninf;
  if (spans)  // ragged batch: hide the pads of this row
    for (int64_t j = 0; j < n; ++j)
      if (!key_visible(*spans, b, i, j)) row[j] = ninf;
}

void softmax(const AttentionDesc& a, float* rows, int64_t n_rows, int64_t n) {
  if (a.fast_exp)
    kernels::softmax_rows_fast(rows, n_rows, n);  // vectorised exp (bfloat16 dtype)
  else
    ops::softmax_rows(rows, n_rows, n);
}

// Query rows per block: the G heads' score rows of a block fill about kBlockFloats floats (1 MiB,
// a core's L2 on current x86) so the softmax and the product with V read them from cache; at
// least kMinBlockRows so that the products stay matrix-shaped at long context.
constexpr int64_t kBlockFloats = 1 << 18;
constexpr int64_t kMinBlockRows = 16;
std::atomic<int64_t> g_block_rows{0};  // set_attention_block_rows
int64_t block_rows(int64_t T, int64_t G, int64_t Tk) {
  if (const int64_t forced = g_block_rows.load(std::memory_order_relaxed); forced > 0) return std::min(T, forced);
  const int64_t r = std::max<int64_t>(kMinBlockRows, kBlockFloats / std::max<int64_t>(1, G * Tk));
  return std::min(T, r);
}

// Keys a block must compute: every key up to its last query (causal), rounded up to a multiple of
// 64 (fewer distinct product shapes, hence fewer oneDNN primitives); a ragged batch takes all.
int64_t block_keys(int64_t last_pos, int64_t Tk, bool ragged) {
  if (ragged) return Tk;
  return std::min(Tk, (last_pos + 1 + 63) / 64 * 64);
}

// The rows of a full [B, H, T, Tk] pattern handed to an observer as blocks of one head each.
void observe_full(PatternObserver& obs, int l, const Tensor& pattern, int64_t n_past) {
  const int64_t B = pattern.dim(0), H = pattern.dim(1), T = pattern.dim(2), Tk = pattern.dim(3);
  ops::parallel_for(B * H, 1, [&](int64_t bh0, int64_t bh1) {
    for (int64_t bh = bh0; bh < bh1; ++bh)
      obs.block({l, bh / H, bh % H, n_past, T, Tk, Tk, pattern.data() + bh * T * Tk});
  });
}

}  // namespace

void set_attention_block_rows(int64_t rows) { g_block_rows = rows; }

void scale_cap_mask(float* scores, int64_t B, int64_t H, int64_t T, int64_t Tk, int64_t n_past, const AttentionDesc& a,
                    const RowSpans* spans) {
  ops::parallel_for(B * H * T, std::max<int64_t>(1, 16384 / std::max<int64_t>(Tk, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      scale_cap_mask_row(scores + r * Tk, Tk, n_past + r % T, r / (H * T), r % T, a, spans);
  });
}

Tensor attention(int l, const LayerWeights& w, const Tensor& q, const Tensor& k, const Tensor& v, KVCache* cache,
                 int64_t n_past, const RowSpans* spans, const HookRunner& hooks, Trace& out) {
  const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), Dh = q.dim(3), Hkv = k.dim(2);
  const int64_t G = H / Hkv, N = B * T, Tk = n_past + T;
  const StoredWeight& wo = *w.wo;  // [D, H*Dh]
  const int64_t D = wo.dim(0);
  if (spans && n_past != 0) fail(ErrorKind::InvalidArgument, "a ragged batch cannot continue a KV cache");

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
  PatternObserver* observer = hooks.pattern_observer();
  if (observer) observer->begin_layer(l, B, H, T, n_past);

  Tensor z = Tensor::uninitialized({B, T, H, Dh});
  if (hooks.active(HookPoint::AttnScores, l) || hooks.active(HookPoint::AttnPattern, l)) {
    // Someone captures or edits the whole [B, H, T, Tk] scores or pattern: materialise them.
    // scores[b, h, i, j] = q[b, i, h] . k[b, j, h / G], seen as [B, Hkv, G, T, Dh] x
    // [B, Hkv, 1, Dh, Tk] so that grouped heads share their kv head without copies.
    Tensor scores = Tensor::uninitialized({B, H, T, Tk});  // matmul outputs are written in full
    ops::matmul({{B, Hkv, G, T, Dh}, {T * H * Dh, G * Dh, Dh, H * Dh, 1}}, q.data(),
                {{B, Hkv, 1, Dh, Tk}, {kv_batch_stride, Dh, 1, 1, Hkv * Dh}}, kd, {{B, Hkv, G, T, Tk}, {}},
                scores.data());
    scale_cap_mask(scores.data(), B, H, T, Tk, n_past, w.attn, spans);
    hooks.at(HookPoint::AttnScores, l, scores, out);
    softmax(w.attn, scores.data(), B * H * T, Tk);
    Tensor& pattern = scores;  // the softmax buffer: hooked, captured and multiplied with V
    hooks.at(HookPoint::AttnPattern, l, pattern, out, true);
    if (observer) observe_full(*observer, l, pattern, n_past);
    // z[b, i, h] = sum_j pattern[b, h, i, j] v[b, j, h / G]
    ops::matmul({{B, Hkv, G, T, Tk}, {}}, pattern.data(), {{B, Hkv, 1, Tk, Dh}, {kv_batch_stride, Dh, 1, Hkv * Dh, 1}},
                vd, {{B, Hkv, G, T, Dh}, {T * H * Dh, G * Dh, Dh, H * Dh, 1}}, z.data());
  } else {
    // Row blocks: for (sequence b, kv head hk, query rows i0 .. i0 + rows - 1), the G grouped
    // heads' complete score rows over the keys the block can see, masked and softmaxed, shown
    // to the observer, multiplied with V into z, and dropped.
    const int64_t R = block_rows(T, G, Tk), n_blocks = (T + R - 1) / R;
    const AttentionDesc& a = w.attn;
    ops::parallel_for(B * Hkv * n_blocks, 1, [&](int64_t t0, int64_t t1) {
      thread_local std::vector<float> buf;
      for (int64_t task = t0; task < t1; ++task) {
        const int64_t b = task / (Hkv * n_blocks), hk = task / n_blocks % Hkv, i0 = task % n_blocks * R;
        const int64_t rows = std::min(R, T - i0);
        const int64_t keys = block_keys(n_past + i0 + rows - 1, Tk, spans != nullptr);
        if (buf.size() < static_cast<size_t>(G * rows * keys)) buf.resize(static_cast<size_t>(G * R * Tk));
        float* s = buf.data();  // [G, rows, keys]
        const float* qb = q.data() + (b * T + i0) * H * Dh + hk * G * Dh;
        const float* kb = kd + b * kv_batch_stride + hk * Dh;
        const float* vb = vd + b * kv_batch_stride + hk * Dh;
        ops::matmul({{G, rows, Dh}, {Dh, H * Dh, 1}}, qb, {{1, Dh, keys}, {Dh * keys, 1, Hkv * Dh}}, kb,
                    {{G, rows, keys}, {}}, s, 1);
        for (int64_t g = 0; g < G; ++g)
          for (int64_t r = 0; r < rows; ++r)
            scale_cap_mask_row(s + (g * rows + r) * keys, keys, n_past + i0 + r, b, i0 + r, a, spans);
        softmax(a, s, G * rows, keys);
        if (observer)
          for (int64_t g = 0; g < G; ++g)
            observer->block({l, b, hk * G + g, n_past + i0, rows, keys, keys, s + g * rows * keys});
        ops::matmul({{G, rows, keys}, {}}, s, {{1, keys, Dh}, {keys * Hkv * Dh, Hkv * Dh, 1}}, vb,
                    {{G, rows, Dh}, {Dh, H * Dh, 1}}, z.data() + (b * T + i0) * H * Dh + hk * G * Dh, 1);
      }
    });
  }
  if (observer) observer->end_layer(l);
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
