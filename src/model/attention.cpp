#include "model/attention.h"

#include <cmath>
#include <cstring>

#include "attnscope/error.h"
#include "tensor/ops.h"
#include "tensor/softmax_kernels.h"

namespace attnscope::detail {

Tensor embed_tokens(const std::vector<std::vector<int32_t>>& ids, const StoredWeight& table) {
  const int64_t B = static_cast<int64_t>(ids.size());
  if (B == 0 || ids[0].empty()) fail(ErrorKind::InvalidArgument, "forward pass over an empty batch");
  const int64_t T = static_cast<int64_t>(ids[0].size());
  const int64_t V = table.rows, D = table.cols;
  Tensor x({B, T, D});
  for (int64_t b = 0; b < B; ++b) {
    if (static_cast<int64_t>(ids[b].size()) != T)
      fail(ErrorKind::InvalidArgument, "batch rows differ in length (" + std::to_string(ids[b].size()) + " vs " +
                                           std::to_string(T) + ")");
    for (int64_t t = 0; t < T; ++t) {
      const int32_t id = ids[b][t];
      if (id < 0 || id >= V)
        fail(ErrorKind::InvalidArgument, "token id " + std::to_string(id) + " at position " + std::to_string(t) +
                                             " is outside the vocabulary [0, " + std::to_string(V) + ")");
      table.dequantize_rows(id, 1, x.data() + (b * T + t) * D);
    }
  }
  return x;
}

Tensor attention(const Model::Impl& m, int l, Tensor& q, Tensor& k, Tensor& v,
                 KVCache* cache, int64_t n_past, const HookRunner& hooks, Trace& out) {
  const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), Dh = q.dim(3), Hkv = k.dim(2);
  const int64_t G = H / Hkv, N = B * T, Tk = n_past + T;
  const int64_t D = m.config.n_embd;
  const std::string P = "blocks." + std::to_string(l) + ".";
  const std::string W = "blk." + std::to_string(l) + ".";
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  hooks.at(P + "attn.hook_q", l, q, out, true);
  hooks.at(P + "attn.hook_k", l, k, out, true);
  hooks.at(P + "attn.hook_v", l, v, out, true);

  // Keys/values attended to: this call's, or the cache's (which now gets this call's appended).
  const float* kd = k.data();
  const float* vd = v.data();
  int64_t kv_batch_stride = T * Hkv * Dh;
  if (cache) {
    Tensor& ck = cache->k[static_cast<size_t>(l)];
    Tensor& cv = cache->v[static_cast<size_t>(l)];
    const int64_t cap = cache->capacity;
    const size_t bytes = sizeof(float) * static_cast<size_t>(T * Hkv * Dh);
    for (int64_t b = 0; b < B; ++b) {
      std::memcpy(ck.data() + (b * cap + n_past) * Hkv * Dh, k.data() + b * T * Hkv * Dh, bytes);
      std::memcpy(cv.data() + (b * cap + n_past) * Hkv * Dh, v.data() + b * T * Hkv * Dh, bytes);
    }
    kd = ck.data();
    vd = cv.data();
    kv_batch_stride = cap * Hkv * Dh;
  }

  // scores[b, h, i, j] = q[b, i, h] . k[b, j, h / G], seen as [B, Hkv, G, T, Dh] x [B, Hkv, 1, Dh, Tk]
  // so that grouped heads share their kv head without copies.
  Tensor scores({B, H, T, Tk});
  ops::matmul({{B, Hkv, G, T, Dh}, {T * H * Dh, G * Dh, Dh, H * Dh, 1}}, q.data(),
              {{B, Hkv, 1, Dh, Tk}, {kv_batch_stride, Dh, 1, 1, Hkv * Dh}}, kd, {{B, Hkv, G, T, Tk}, {}},
              scores.data());
  ops::scale_causal_mask(scores.data(), B * H, T, Tk, n_past, scale);
  hooks.at(P + "attn.hook_attn_scores", l, scores, out);
  if (m.dtype == ComputeDtype::BFloat16)
    kernels::softmax_rows_fast(scores.data(), B * H * T, Tk);  // vectorised exp
  else
    ops::softmax_rows(scores.data(), B * H * T, Tk);
  Tensor& pattern = scores;  // the softmax buffer: hooked, captured and multiplied with V
  hooks.at(P + "attn.hook_pattern", l, pattern, out, true);

  // z[b, i, h] = sum_j pattern[b, h, i, j] v[b, j, h / G]
  Tensor z({B, T, H, Dh});
  ops::matmul({{B, Hkv, G, T, Tk}, {}}, pattern.data(), {{B, Hkv, 1, Tk, Dh}, {kv_batch_stride, Dh, 1, Hkv * Dh, 1}},
              vd, {{B, Hkv, G, T, Dh}, {T * H * Dh, G * Dh, Dh, H * Dh, 1}}, z.data());
  hooks.at(P + "attn.hook_z", l, z, out, true);

  Tensor attn_out({B, T, D});
  if (hooks.active(P + "attn.hook_result")) {
    const Tensor& wo = m.weight(W + "attn_output.weight");  // [D, H*Dh] (decoded once if stored)
    // Each head's contribution: result[n, h] = z[n, h] . Wo[:, h*Dh:(h+1)*Dh]^T, then summed.
    Tensor result({B, T, H, D});
    ops::matmul({{H, N, Dh}, {Dh, H * Dh, 1}}, z.data(), {{H, Dh, D}, {Dh, 1, H * Dh}}, wo.data(),
                {{H, N, D}, {D, H * D, 1}}, result.data());
    hooks.at(P + "attn.hook_result", l, result, out, true);
    const float* r = result.data();
    float* a = attn_out.data();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t hh = 0; hh < H; ++hh) ops::add(a + n * D, r + (n * H + hh) * D, D);
  } else {
    m.linear(z.data(), N, W + "attn_output.weight", nullptr, attn_out.data());
  }
  if (const Tensor* bo = m.find_weight(W + "attn_output.bias")) ops::add_bias(attn_out.data(), bo->data(), N, D);
  hooks.at(P + "hook_attn_out", l, attn_out, out, true);
  return attn_out;
}

void output_logits(const Model::Impl& m, const ForwardInput& in, const Tensor& hn, const HookRunner& hooks,
                   Trace& out) {
  if (!in.want_logits && !hooks.active("logits")) return;
  const ModelConfig& c = m.config;
  const int64_t B = hn.dim(0), T = hn.dim(1), D = hn.dim(2), V = c.n_vocab;
  const std::string head = c.tied_embeddings ? "token_embd.weight" : "output.weight";
  if (in.last_logits_only && !hooks.active("logits")) {
    // Generation needs only the last position: one row per sequence.
    Tensor last({B, 1, D});
    for (int64_t b = 0; b < B; ++b)
      std::memcpy(last.data() + b * D, hn.data() + (b * T + T - 1) * D, sizeof(float) * D);
    Tensor logits({B, 1, V});
    m.linear(last.data(), B, head, nullptr, logits.data());
    out.logits = logits;
  } else {
    Tensor logits({B, T, V});
    m.linear(hn.data(), B * T, head, nullptr, logits.data());
    hooks.intervene("logits", -1, logits);
    out.logits = logits;
  }
}

}  // namespace attnscope::detail
