// The GPT-2 forward pass. Same hook points, same explicit attention as forward_llama: the softmax
// buffer the hooks see is the one multiplied with V.
#include "model/forward_gpt2.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "attnscope/error.h"
#include "model/attention.h"
#include "model/hooks.h"
#include "model/kv_cache.h"
#include "tensor/ops.h"

namespace attnscope::detail {

void forward_gpt2(const Model::Impl& m, const ForwardInput& in, const HookRunner& hooks, Trace& out) {
  const ModelConfig& c = m.config;
  const auto& ids = *in.ids;
  const int64_t B = static_cast<int64_t>(ids.size());
  if (B == 0 || ids[0].empty()) fail(ErrorKind::InvalidArgument, "forward pass over an empty batch");
  const int64_t T = static_cast<int64_t>(ids[0].size());
  const int64_t N = B * T, D = c.n_embd, H = c.n_head, Dh = c.head_dim, F = c.n_ff;
  const int64_t n_past = in.cache ? in.cache->n_past : 0;
  const int64_t Tk = n_past + T;
  if (in.cache && Tk > in.cache->capacity)
    fail(ErrorKind::InvalidArgument, "KV cache holds " + std::to_string(in.cache->capacity) + " tokens; " +
                                         std::to_string(Tk) + " needed");
  const Tensor& wte = m.weight("token_embd.weight");
  const Tensor& wpe = m.weight("position_embd.weight");
  if (Tk > wpe.dim(0))
    fail(ErrorKind::InvalidArgument, "GPT-2 has learned positions for " + std::to_string(wpe.dim(0)) +
                                         " tokens; position " + std::to_string(Tk - 1) + " asked for");

  // Token and position embeddings, hooked separately, summed into the residual stream.
  Tensor tok = embed_tokens(ids, StoredWeight::from_tensor(wte));
  Tensor pos({B, T, D});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      std::memcpy(pos.data() + (b * T + t) * D, wpe.data() + (n_past + t) * D, sizeof(float) * D);
  hooks.at("hook_embed", -1, tok, out);
  hooks.at("hook_pos_embed", -1, pos, out);
  Tensor x = tok.clone();
  ops::add(x.data(), pos.data(), N * D);

  for (int l = 0; l < c.n_layer; ++l) {
    const std::string P = "blocks." + std::to_string(l) + ".";
    const std::string W = "blk." + std::to_string(l) + ".";
    hooks.at(P + "hook_resid_pre", l, x, out);

    // --- attention ---
    Tensor h({B, T, D});
    ops::layernorm(x.data(), m.weight(W + "attn_norm.weight").data(), m.weight(W + "attn_norm.bias").data(),
                   h.data(), N, D, c.norm_eps);
    hooks.at(P + "ln1.hook_normalized", l, h, out, true);
    Tensor qkv({N, 3 * D});
    m.linear(h.data(), N, W + "attn_qkv.weight", m.weight(W + "attn_qkv.bias").data(),
                qkv.data());
    // The fused projection's rows are [q | k | v], each D = H * Dh wide.
    Tensor q({B, T, H, Dh}), k({B, T, H, Dh}), v({B, T, H, Dh});
    for (int64_t n = 0; n < N; ++n) {
      std::memcpy(q.data() + n * D, qkv.data() + n * 3 * D, sizeof(float) * D);
      std::memcpy(k.data() + n * D, qkv.data() + n * 3 * D + D, sizeof(float) * D);
      std::memcpy(v.data() + n * D, qkv.data() + n * 3 * D + 2 * D, sizeof(float) * D);
    }

    Tensor attn_out = attention(m, l, q, k, v, in.cache, n_past, hooks, out);
    ops::add(x.data(), attn_out.data(), N * D);
    hooks.at(P + "hook_resid_mid", l, x, out);

    // --- MLP ---
    Tensor h2({B, T, D});
    ops::layernorm(x.data(), m.weight(W + "ffn_norm.weight").data(), m.weight(W + "ffn_norm.bias").data(), h2.data(),
                   N, D, c.norm_eps);
    hooks.at(P + "ln2.hook_normalized", l, h2, out, true);
    Tensor pre({B, T, F});
    m.linear(h2.data(), N, W + "ffn_up.weight", m.weight(W + "ffn_up.bias").data(),
                pre.data());
    hooks.at(P + "mlp.hook_pre", l, pre, out);
    Tensor post = pre.clone();
    ops::gelu_tanh(post.data(), N * F);
    hooks.at(P + "mlp.hook_post", l, post, out, true);
    Tensor mlp_out({B, T, D});
    m.linear(post.data(), N, W + "ffn_down.weight", m.weight(W + "ffn_down.bias").data(),
                mlp_out.data());
    hooks.at(P + "hook_mlp_out", l, mlp_out, out, true);
    ops::add(x.data(), mlp_out.data(), N * D);
    hooks.at(P + "hook_resid_post", l, x, out);
  }

  Tensor hn({B, T, D});
  ops::layernorm(x.data(), m.weight("output_norm.weight").data(), m.weight("output_norm.bias").data(), hn.data(), N,
                 D, c.norm_eps);
  hooks.at("ln_final.hook_normalized", -1, hn, out, true);

  output_logits(m, in, hn, hooks, out);
  if (in.cache) in.cache->n_past = static_cast<int>(Tk);
}

void prepare_gpt2(Model::Impl& impl) {
  const ModelConfig& c = impl.config;
  if (c.n_head <= 0 || c.head_dim * c.n_head != c.n_embd || c.n_head_kv != c.n_head)
    fail(ErrorKind::Format, impl.source + ": GPT-2 needs n_head * head_dim == n_embd and no grouped heads");
  const int64_t D = c.n_embd, V = c.n_vocab, F = c.n_ff;
  auto expect = [&](const std::string& name, const Shape& shape) {
    const Tensor* t = impl.find_weight(name);
    if (!t) fail(ErrorKind::Format, impl.source + ": weight '" + name + "' is missing");
    if (t->shape() != shape)
      fail(ErrorKind::Format, impl.source + ": weight '" + name + "' has shape " + t->shape_str() + ", expected " +
                                  Tensor::view(shape, nullptr, nullptr).shape_str());
  };
  expect("token_embd.weight", {V, D});
  const Tensor* wpe = impl.find_weight("position_embd.weight");
  if (!wpe || wpe->ndim() != 2 || wpe->dim(1) != D || wpe->dim(0) < 1)
    fail(ErrorKind::Format, impl.source + ": weight 'position_embd.weight' is missing or not [n_ctx, " +
                                std::to_string(D) + "]");
  if (c.n_ctx <= 0 || c.n_ctx > wpe->dim(0)) impl.config.n_ctx = static_cast<int>(wpe->dim(0));
  expect("output_norm.weight", {D});
  expect("output_norm.bias", {D});
  if (!c.tied_embeddings) expect("output.weight", {V, D});
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string W = "blk." + std::to_string(l) + ".";
    for (const char* n : {"attn_norm", "ffn_norm"}) {
      expect(W + n + ".weight", {D});
      expect(W + n + ".bias", {D});
    }
    expect(W + "attn_qkv.weight", {3 * D, D});
    expect(W + "attn_qkv.bias", {3 * D});
    expect(W + "attn_output.weight", {D, D});
    expect(W + "attn_output.bias", {D});
    expect(W + "ffn_up.weight", {F, D});
    expect(W + "ffn_up.bias", {F});
    expect(W + "ffn_down.weight", {D, F});
    expect(W + "ffn_down.bias", {D});
  }
  impl.forward = &forward_gpt2;
}

}  // namespace attnscope::detail
