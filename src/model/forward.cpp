// The forward pass of every family: a decoder-only transformer whose variations are data in
// ModelConfig (norm kind, pre/post norms, q/k norms, RoPE or learned positions, serial or parallel
// residual, gated or plain MLP, soft-caps, windows) and whose weights come bound per layer
// (src/model/bind.cpp). Attention is explicit per head (src/model/attention.cpp): the softmax
// buffer the hooks see is the one multiplied with V.
#include <cmath>
#include <cstring>
#include <string>

#include "attnscope/error.h"
#include "model/arch.h"
#include "model/attention.h"
#include "model/hooks.h"
#include "model/kv_cache.h"
#include "model/model_impl.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

namespace attnscope::detail {

namespace {

void norm_rows(const ModelConfig& c, const float* x, const Tensor* w, const Tensor* b, float* y, int64_t rows,
               int64_t n) {
  if (c.norm == NormKind::RMSNorm)
    ops::rmsnorm(x, w->data(), y, rows, n, c.norm_eps);
  else
    ops::layernorm(x, w->data(), b ? b->data() : nullptr, y, rows, n, c.norm_eps);
}

// Tensor of the same shape as x, normalised row by row over its last `n` values.
Tensor normed(const ModelConfig& c, const Tensor& x, const Tensor* w, const Tensor* b, int64_t n) {
  Tensor y = Tensor::uninitialized(x.shape());  // every row is written
  norm_rows(c, x.data(), w, b, y.data(), x.numel() / n, n);
  return y;
}

void activate(Activation act, float* x, const float* up, int64_t n) {
  ops::parallel_for(
      n, 16384,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const float g = x[i];
          float a;
          switch (act) {
            case Activation::SwiGLU:
              a = g / (1.0f + std::exp(-g));
              break;
            case Activation::GeluErf:
              a = 0.5f * g * (1.0f + std::erf(g * static_cast<float>(M_SQRT1_2)));
              break;
            default:  // GeGLU, GeluTanh: the tanh approximation
              a = 0.5f * g * (1.0f + std::tanh(0.7978845608028654f * (g + 0.044715f * g * g * g)));
          }
          x[i] = up ? a * up[i] : a;
        }
      },
      ops::kFloatsPerLine);
}

// Multiplies the first rope_dim values of every head by f (longrope's scaled cos and sin).
void scale_rotated(float* x, int64_t rows_heads, int64_t head_dim, int rope_dim, float f) {
  for (int64_t r = 0; r < rows_heads; ++r)
    for (int i = 0; i < rope_dim; ++i) x[r * head_dim + i] *= f;
}

Tensor project(const Tensor& h, const StoredWeight* w, const Tensor* b, Shape shape) {
  Tensor y = Tensor::uninitialized(std::move(shape));  // the product overwrites it
  linear(h.data(), h.numel() / h.dim(-1), *w, b ? b->data() : nullptr, y.data(), false, w->compute);
  return y;
}

}  // namespace

Tensor final_norm(const Model::Impl& m, const Tensor& hidden) {
  return normed(m.config, hidden, m.bound.output_norm, m.bound.output_norm_b, m.config.n_embd);
}

void output_head(const Model::Impl& m, const float* hn, int64_t rows, float* logits) {
  const int64_t V = m.config.n_vocab;
  linear(hn, rows, *m.bound.output, nullptr, logits, false, m.bound.output->compute);
  if (const float cap = m.config.final_softcap; cap > 0)
    for (int64_t i = 0; i < rows * V; ++i) logits[i] = cap * std::tanh(logits[i] / cap);
}

void forward_transformer(const Model::Impl& m, const ForwardInput& in, const HookRunner& hooks, Trace& out) {
  const ModelConfig& c = m.config;
  const ModelWeights& W = m.bound;
  const auto& ids = *in.ids;
  const int64_t B = static_cast<int64_t>(ids.size());
  if (B == 0 || ids[0].empty()) fail(ErrorKind::InvalidArgument, "forward pass over an empty batch");
  const int64_t T = static_cast<int64_t>(ids[0].size());
  const int64_t N = B * T, D = c.n_embd, H = c.n_head, Hkv = c.n_head_kv, Dh = c.head_dim, F = c.n_ff;
  const int64_t n_past = in.cache ? in.cache->n_past : 0;
  const int64_t Tk = n_past + T;
  if (in.cache && Tk > in.cache->capacity)
    fail(ErrorKind::InvalidArgument,
         "KV cache holds " + std::to_string(in.cache->capacity) + " tokens; " + std::to_string(Tk) + " needed");
  if (W.position_embd && Tk > W.position_embd->dim(0))
    fail(ErrorKind::InvalidArgument, "the model has learned positions for " + std::to_string(W.position_embd->dim(0)) +
                                         " tokens; position " + std::to_string(Tk - 1) + " asked for");
  if (in.start_layer < 0 || in.start_layer >= c.n_layer)
    fail(ErrorKind::InvalidArgument,
         "start_at_layer " + std::to_string(in.start_layer) + " is outside 0.." + std::to_string(c.n_layer - 1));

  // The residual stream x [B, T, D]: embeddings, or the given stream at start_layer.
  Tensor x;
  if (in.residual) {
    if (in.residual->shape() != Shape{B, T, D})
      fail(ErrorKind::InvalidArgument, "the residual stream to start from has shape " + in.residual->shape_str() +
                                           ", expected [" + std::to_string(B) + ", " + std::to_string(T) + ", " +
                                           std::to_string(D) + "]");
    x = in.residual->clone();
  } else {
    x = embed_tokens(ids, *W.token_embd);
    if (c.embed_scale != 1.0f)
      for (int64_t i = 0; i < N * D; ++i) x.data()[i] *= c.embed_scale;
    hooks.at(HookPoint::Embed, -1, x, out);
    if (W.position_embd) {
      // Learned positions, per row: a ragged batch counts from each row's first real token.
      Tensor pos({B, T, D});
      const std::vector<int32_t> rows = row_positions(B, T, n_past, in.spans);
      for (int64_t r = 0; r < N; ++r)
        W.position_embd->dequantize_rows(rows[static_cast<size_t>(r)], 1, pos.data() + r * D);
      hooks.at(HookPoint::PosEmbed, -1, pos, out);
      ops::add(x.data(), pos.data(), N * D);
    }
  }

  const std::vector<int32_t> positions = row_positions(B, T, n_past, in.spans);
  const bool long_rope = !c.rope_freq_factors_long.empty() && Tk > c.rope_long_after;
  const std::vector<float>& factors = long_rope ? c.rope_freq_factors_long : c.rope_freq_factors;
  const float* scaled_factors = factors.empty() ? nullptr : factors.data();
  const bool neox = c.rope_layout == RopeLayout::NeoX;
  // The optional stages, decided by the hook table's rows so that a hook point is listed exactly
  // when the forward produces it.
  const bool pre_norms = hook_applies(HookPoint::Ln1Normalized, c);
  const bool qk_norm = hook_applies(HookPoint::AttnQNorm, c);
  const bool rope = hook_applies(HookPoint::AttnRotQ, c);
  const bool serial = hook_applies(HookPoint::ResidMid, c);
  const bool gated = hook_applies(HookPoint::MlpPreLinear, c);

  for (int l = in.start_layer; l < c.n_layer; ++l) {
    const LayerWeights& w = W.layers[static_cast<size_t>(l)];
    hooks.at(HookPoint::ResidPre, l, x, out);

    // --- attention ---
    Tensor h = x;
    if (pre_norms) {
      h = normed(c, x, w.attn_norm, w.attn_norm_b, D);
      hooks.at(HookPoint::Ln1Normalized, l, h, out, true);
    }
    Tensor q = project(h, w.wq, w.bq, {B, T, H, Dh});
    Tensor k = project(h, w.wk, w.bk, {B, T, Hkv, Dh});
    Tensor v = project(h, w.wv, w.bv, {B, T, Hkv, Dh});
    hooks.at(HookPoint::AttnQ, l, q, out);
    hooks.at(HookPoint::AttnK, l, k, out);
    hooks.at(HookPoint::AttnV, l, v, out, true);
    if (qk_norm) {
      const bool per_head = c.qk_norm == QkNorm::PerHead;
      q = normed(c, q, w.q_norm, nullptr, per_head ? Dh : H * Dh);
      k = normed(c, k, w.k_norm, nullptr, per_head ? Dh : Hkv * Dh);
      hooks.at(HookPoint::AttnQNorm, l, q, out);
      hooks.at(HookPoint::AttnKNorm, l, k, out);
    }
    if (rope) {
      const float* freq_factors = w.attn.rope_scaled ? scaled_factors : nullptr;
      ops::rope(q.data(), N, static_cast<int>(H), static_cast<int>(Dh), positions.data(), w.attn.rope_dim,
                w.attn.rope_base, neox, freq_factors);
      ops::rope(k.data(), N, static_cast<int>(Hkv), static_cast<int>(Dh), positions.data(), w.attn.rope_dim,
                w.attn.rope_base, neox, freq_factors);
      if (c.rope_attn_factor != 1.0f) {
        scale_rotated(q.data(), N * H, Dh, w.attn.rope_dim, c.rope_attn_factor);
        scale_rotated(k.data(), N * Hkv, Dh, w.attn.rope_dim, c.rope_attn_factor);
      }
      hooks.at(HookPoint::AttnRotQ, l, q, out, true);
      hooks.at(HookPoint::AttnRotK, l, k, out, true);
    }
    Tensor attn_out = attention(l, w, q, k, v, in.cache, n_past, in.spans, hooks, out);
    if (w.post_attn_norm) attn_out = normed(c, attn_out, w.post_attn_norm, nullptr, D);
    hooks.at(HookPoint::AttnOut, l, attn_out, out, true);

    // --- MLP ---  (parallel residual: it reads the same stream x as attention did)
    if (serial) {
      ops::add(x.data(), attn_out.data(), N * D);
      hooks.at(HookPoint::ResidMid, l, x, out);
    }
    Tensor h2 = x;
    if (pre_norms) {
      h2 = normed(c, x, w.ffn_norm, w.ffn_norm_b, D);
      hooks.at(HookPoint::Ln2Normalized, l, h2, out, true);
    }
    Tensor pre = project(h2, gated ? w.gate : w.up, gated ? nullptr : w.b_up, {B, T, F});
    hooks.at(HookPoint::MlpPre, l, pre, out);
    Tensor up;
    if (gated) {
      up = project(h2, w.up, nullptr, {B, T, F});
      hooks.at(HookPoint::MlpPreLinear, l, up, out);
    }
    Tensor post = pre.clone();
    activate(c.act, post.data(), gated ? up.data() : nullptr, N * F);
    hooks.at(HookPoint::MlpPost, l, post, out, true);
    Tensor mlp_out = project(post, w.down, w.b_down, {B, T, D});
    if (w.post_ffn_norm) mlp_out = normed(c, mlp_out, w.post_ffn_norm, nullptr, D);
    hooks.at(HookPoint::MlpOut, l, mlp_out, out, true);
    if (!serial) ops::add(x.data(), attn_out.data(), N * D);
    ops::add(x.data(), mlp_out.data(), N * D);
    hooks.at(HookPoint::ResidPost, l, x, out);
  }

  Tensor hn = final_norm(m, x);
  hooks.at(HookPoint::LnFinal, -1, hn, out, true);
  if (in.want_logits || hooks.active(HookPoint::Logits)) {
    const int64_t V = c.n_vocab;
    if (in.last_logits_only && !hooks.active(HookPoint::Logits)) {
      // Generation needs only the last position: one row per sequence.
      Tensor last({B, 1, D});
      for (int64_t b = 0; b < B; ++b)
        std::memcpy(last.data() + b * D, hn.data() + (b * T + T - 1) * D, sizeof(float) * D);
      Tensor logits = Tensor::uninitialized({B, 1, V});
      output_head(m, last.data(), B, logits.data());
      out.logits = logits;
    } else {
      Tensor logits = Tensor::uninitialized({B, T, V});
      output_head(m, hn.data(), N, logits.data());
      hooks.intervene(HookPoint::Logits, -1, logits);
      out.logits = logits;
    }
  }
  if (in.cache) in.cache->n_past = static_cast<int>(Tk);
}

}  // namespace attnscope::detail
