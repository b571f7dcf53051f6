// The forward pass of the Llama family: pre-RMSNorm blocks with rotary attention (optionally
// grouped-query, optionally q/k/v biases) and a SwiGLU MLP. Attention is explicit per head:
// scores -> causal mask -> softmax into one buffer, and that very buffer is what the hook sees,
// what a capture keeps, and what multiplies V.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "attnscope/error.h"
#include "model/attention.h"
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
  const int64_t n_past = in.cache ? in.cache->n_past : 0;
  const int64_t Tk = n_past + T;
  if (in.cache && Tk > in.cache->capacity)
    fail(ErrorKind::InvalidArgument, "KV cache holds " + std::to_string(in.cache->capacity) + " tokens; " +
                                         std::to_string(Tk) + " needed");

  // Token embeddings -> residual stream x [B, T, D].
  Tensor x = embed_tokens(ids, m.matrix("token_embd.weight"));
  hooks.at("hook_embed", -1, x, out);

  std::vector<int32_t> positions(static_cast<size_t>(N));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) positions[b * T + t] = static_cast<int32_t>(n_past + t);
  const float* freq_factors = c.rope_freq_factors.empty() ? nullptr : c.rope_freq_factors.data();
  const bool neox = c.rope_layout == RopeLayout::NeoX;

  for (int l = 0; l < c.n_layer; ++l) {
    const std::string P = "blocks." + std::to_string(l) + ".";
    const std::string W = "blk." + std::to_string(l) + ".";
    hooks.at(P + "hook_resid_pre", l, x, out);

    // --- attention ---
    Tensor h({B, T, D});
    ops::rmsnorm(x.data(), m.weight(W + "attn_norm.weight").data(), h.data(), N, D, c.norm_eps);
    hooks.at(P + "ln1.hook_normalized", l, h, out, true);

    Tensor q({B, T, H, Dh}), k({B, T, Hkv, Dh}), v({B, T, Hkv, Dh});
    m.linear(h.data(), N, W + "attn_q.weight", bias_or_null(m, W + "attn_q.bias"), q.data());
    m.linear(h.data(), N, W + "attn_k.weight", bias_or_null(m, W + "attn_k.bias"), k.data());
    m.linear(h.data(), N, W + "attn_v.weight", bias_or_null(m, W + "attn_v.bias"), v.data());
    ops::rope(q.data(), N, static_cast<int>(H), static_cast<int>(Dh), positions.data(), c.rope_dim, c.rope_base,
              neox, freq_factors);
    ops::rope(k.data(), N, static_cast<int>(Hkv), static_cast<int>(Dh), positions.data(), c.rope_dim, c.rope_base,
              neox, freq_factors);

    Tensor attn_out = attention(m, l, q, k, v, in.cache, n_past, hooks, out);
    ops::add(x.data(), attn_out.data(), N * D);
    hooks.at(P + "hook_resid_mid", l, x, out);

    // --- MLP ---
    Tensor h2({B, T, D});
    ops::rmsnorm(x.data(), m.weight(W + "ffn_norm.weight").data(), h2.data(), N, D, c.norm_eps);
    hooks.at(P + "ln2.hook_normalized", l, h2, out, true);
    Tensor gate({B, T, F}), up({B, T, F});
    m.linear(h2.data(), N, W + "ffn_gate.weight", nullptr, gate.data());
    m.linear(h2.data(), N, W + "ffn_up.weight", nullptr, up.data());
    hooks.at(P + "mlp.hook_pre", l, gate, out, true);
    Tensor post({B, T, F});
    ops::silu_mul(gate.data(), up.data(), post.data(), N * F);
    hooks.at(P + "mlp.hook_post", l, post, out, true);
    Tensor mlp_out({B, T, D});
    m.linear(post.data(), N, W + "ffn_down.weight", nullptr, mlp_out.data());
    hooks.at(P + "hook_mlp_out", l, mlp_out, out, true);
    ops::add(x.data(), mlp_out.data(), N * D);
    hooks.at(P + "hook_resid_post", l, x, out);
  }

  Tensor hn({B, T, D});
  ops::rmsnorm(x.data(), m.weight("output_norm.weight").data(), hn.data(), N, D, c.norm_eps);
  hooks.at("ln_final.hook_normalized", -1, hn, out, true);

  output_logits(m, in, hn, hooks, out);
  if (in.cache) in.cache->n_past = static_cast<int>(Tk);
}

}  // namespace attnscope::detail
