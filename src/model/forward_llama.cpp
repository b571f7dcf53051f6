// The forward pass of the Llama family: pre-RMSNorm blocks with rotary attention (optionally
// grouped-query, optionally q/k/v biases) and a SwiGLU MLP. Attention is explicit per head:
// scores -> causal mask -> softmax into one buffer, and that very buffer is what the hook sees,
// what a capture keeps, and what multiplies V.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "attnscope/error.h"
#include "model/hooks.h"
#include "model/kv_cache.h"
#include "model/model_impl.h"
#include "tensor/ops.h"

namespace attnscope::detail {

namespace {

const float* bias_or_null(const Model::Impl& m, const std::string& name) {
  const Tensor* t = m.find_weight(name);
  return t ? t->data() : nullptr;
}

}  // namespace

void forward_llama(const Model::Impl& m, const ForwardInput& in, const HookRunner& hooks, Trace& out) {
  const ModelConfig& c = m.config;
  const auto& ids = *in.ids;
  const int64_t B = static_cast<int64_t>(ids.size());
  if (B == 0 || ids[0].empty()) fail(ErrorKind::InvalidArgument, "forward pass over an empty batch");
  const int64_t T = static_cast<int64_t>(ids[0].size());
  const int64_t N = B * T, D = c.n_embd, H = c.n_head, Hkv = c.n_head_kv, Dh = c.head_dim, F = c.n_ff;
  const int64_t G = H / Hkv;
  const int64_t n_past = in.cache ? in.cache->n_past : 0;
  const int64_t Tk = n_past + T;
  if (in.cache && Tk > in.cache->capacity)
    fail(ErrorKind::InvalidArgument, "KV cache holds " + std::to_string(in.cache->capacity) + " tokens; " +
                                         std::to_string(Tk) + " needed");

  // Token embeddings -> residual stream x [B, T, D].
  const Tensor& embd = m.weight("token_embd.weight");
  Tensor x({B, T, D});
  for (int64_t b = 0; b < B; ++b) {
    if (static_cast<int64_t>(ids[b].size()) != T)
      fail(ErrorKind::InvalidArgument, "batch rows differ in length (" + std::to_string(ids[b].size()) + " vs " +
                                           std::to_string(T) + ")");
    for (int64_t t = 0; t < T; ++t) {
      const int32_t id = ids[b][t];
      if (id < 0 || id >= c.n_vocab)
        fail(ErrorKind::InvalidArgument, "token id " + std::to_string(id) + " at position " + std::to_string(t) +
                                             " is outside the vocabulary [0, " + std::to_string(c.n_vocab) + ")");
      std::memcpy(x.data() + (b * T + t) * D, embd.data() + id * D, sizeof(float) * D);
    }
  }
  hooks.at("hook_embed", -1, x, out);

  std::vector<int32_t> positions(static_cast<size_t>(N));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) positions[b * T + t] = static_cast<int32_t>(n_past + t);
  const float* freq_factors = c.rope_freq_factors.empty() ? nullptr : c.rope_freq_factors.data();
  const bool neox = c.rope_layout == RopeLayout::NeoX;
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));

  for (int l = 0; l < c.n_layer; ++l) {
    const std::string P = "blocks." + std::to_string(l) + ".";
    const std::string W = "blk." + std::to_string(l) + ".";
    hooks.at(P + "hook_resid_pre", l, x, out);

    // --- attention ---
    Tensor h({B, T, D});
    ops::rmsnorm(x.data(), m.weight(W + "attn_norm.weight").data(), h.data(), N, D, c.norm_eps);
    hooks.at(P + "ln1.hook_normalized", l, h, out, true);

    Tensor q({B, T, H, Dh}), k({B, T, Hkv, Dh}), v({B, T, Hkv, Dh});
    ops::linear(h.data(), N, D, m.weight(W + "attn_q.weight").data(), H * Dh, bias_or_null(m, W + "attn_q.bias"),
                q.data());
    ops::linear(h.data(), N, D, m.weight(W + "attn_k.weight").data(), Hkv * Dh,
                bias_or_null(m, W + "attn_k.bias"), k.data());
    ops::linear(h.data(), N, D, m.weight(W + "attn_v.weight").data(), Hkv * Dh,
                bias_or_null(m, W + "attn_v.bias"), v.data());
    ops::rope(q.data(), N, static_cast<int>(H), static_cast<int>(Dh), positions.data(), c.rope_dim, c.rope_base,
              neox, freq_factors);
    ops::rope(k.data(), N, static_cast<int>(Hkv), static_cast<int>(Dh), positions.data(), c.rope_dim, c.rope_base,
              neox, freq_factors);
    hooks.at(P + "attn.hook_q", l, q, out, true);
    hooks.at(P + "attn.hook_k", l, k, out, true);
    hooks.at(P + "attn.hook_v", l, v, out, true);

    // Keys/values attended to: this call's, or the cache's (which now gets this call's appended).
    const float* kd = k.data();
    const float* vd = v.data();
    int64_t kv_batch_stride = T * Hkv * Dh;
    if (in.cache) {
      Tensor& ck = in.cache->k[static_cast<size_t>(l)];
      Tensor& cv = in.cache->v[static_cast<size_t>(l)];
      const int64_t cap = in.cache->capacity;
      for (int64_t b = 0; b < B; ++b) {
        std::memcpy(ck.data() + (b * cap + n_past) * Hkv * Dh, k.data() + b * T * Hkv * Dh, sizeof(float) * T * Hkv * Dh);
        std::memcpy(cv.data() + (b * cap + n_past) * Hkv * Dh, v.data() + b * T * Hkv * Dh, sizeof(float) * T * Hkv * Dh);
      }
      kd = ck.data();
      vd = cv.data();
      kv_batch_stride = cap * Hkv * Dh;
    }

    // scores[b, h, i, j] = q[b, i, h] . k[b, j, h / G], seen as [B, Hkv, G, T, Dh] x [B, Hkv, 1, Dh, Tk]
    // so that grouped heads share their kv head without copies.
    Tensor scores({B, H, T, Tk});
    ops::matmul({{B, Hkv, G, T, Dh}, {T * H * Dh, G * Dh, Dh, H * Dh, 1}}, q.data(),
                {{B, Hkv, 1, Dh, Tk}, {kv_batch_stride, Dh, 1, 1, Hkv * Dh}}, kd,
                {{B, Hkv, G, T, Tk}, {}}, scores.data());
    ops::scale_causal_mask(scores.data(), B * H, T, Tk, n_past, scale);
    hooks.at(P + "attn.hook_attn_scores", l, scores, out);
    ops::softmax_rows(scores.data(), B * H * T, Tk);
    Tensor& pattern = scores;  // the softmax buffer: hooked, captured and multiplied with V
    hooks.at(P + "attn.hook_pattern", l, pattern, out, true);

    // z[b, i, h] = sum_j pattern[b, h, i, j] v[b, j, h / G]
    Tensor z({B, T, H, Dh});
    ops::matmul({{B, Hkv, G, T, Tk}, {}}, pattern.data(), {{B, Hkv, 1, Tk, Dh}, {kv_batch_stride, Dh, 1, Hkv * Dh, 1}},
                vd, {{B, Hkv, G, T, Dh}, {T * H * Dh, G * Dh, Dh, H * Dh, 1}}, z.data());
    hooks.at(P + "attn.hook_z", l, z, out, true);

    const Tensor& wo = m.weight(W + "attn_output.weight");  // [D, H*Dh]
    Tensor attn_out({B, T, D});
    if (hooks.active(P + "attn.hook_result")) {
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
      ops::linear(z.data(), N, H * Dh, wo.data(), D, nullptr, attn_out.data());
    }
    if (const float* bo = bias_or_null(m, W + "attn_output.bias")) ops::add_bias(attn_out.data(), bo, N, D);
    hooks.at(P + "hook_attn_out", l, attn_out, out, true);
    ops::add(x.data(), attn_out.data(), N * D);
    hooks.at(P + "hook_resid_mid", l, x, out);

    // --- MLP ---
    Tensor h2({B, T, D});
    ops::rmsnorm(x.data(), m.weight(W + "ffn_norm.weight").data(), h2.data(), N, D, c.norm_eps);
    hooks.at(P + "ln2.hook_normalized", l, h2, out, true);
    Tensor gate({B, T, F}), up({B, T, F});
    ops::linear(h2.data(), N, D, m.weight(W + "ffn_gate.weight").data(), F, nullptr, gate.data());
    ops::linear(h2.data(), N, D, m.weight(W + "ffn_up.weight").data(), F, nullptr, up.data());
    hooks.at(P + "mlp.hook_pre", l, gate, out, true);
    Tensor post({B, T, F});
    ops::silu_mul(gate.data(), up.data(), post.data(), N * F);
    hooks.at(P + "mlp.hook_post", l, post, out, true);
    Tensor mlp_out({B, T, D});
    ops::linear(post.data(), N, F, m.weight(W + "ffn_down.weight").data(), D, nullptr, mlp_out.data());
    hooks.at(P + "hook_mlp_out", l, mlp_out, out, true);
    ops::add(x.data(), mlp_out.data(), N * D);
    hooks.at(P + "hook_resid_post", l, x, out);
  }

  Tensor hn({B, T, D});
  ops::rmsnorm(x.data(), m.weight("output_norm.weight").data(), hn.data(), N, D, c.norm_eps);
  hooks.at("ln_final.hook_normalized", -1, hn, out, true);

  if (in.want_logits || hooks.active("logits")) {
    const Tensor* head = c.tied_embeddings ? &embd : &m.weight("output.weight");
    const int64_t V = c.n_vocab;
    if (in.last_logits_only && !hooks.active("logits")) {
      // Generation needs only the last position: one row per sequence.
      Tensor last({B, 1, D});
      for (int64_t b = 0; b < B; ++b)
        std::memcpy(last.data() + b * D, hn.data() + (b * T + T - 1) * D, sizeof(float) * D);
      Tensor logits({B, 1, V});
      ops::linear(last.data(), B, D, head->data(), V, nullptr, logits.data());
      out.logits = logits;
    } else {
      Tensor logits({B, T, V});
      ops::linear(hn.data(), N, D, head->data(), V, nullptr, logits.data());
      hooks.intervene("logits", -1, logits);
      out.logits = logits;
    }
  }
  if (in.cache) in.cache->n_past = static_cast<int>(Tk);
}

}  // namespace attnscope::detail
