// Gemma (1): the Llama block with a GeGLU MLP (tanh GELU, gelu_pytorch_tanh), embeddings scaled by
// sqrt(n_embd), RMSNorm computing x * (1 + w) (GGUF stores 1 + w, as llama.cpp's converter
// writes it), head_dim independent of n_embd / n_head, RoPE in rotate-half order, tied head.
#include "model/arch_gemma.h"

#include <cmath>

#include "attnscope/error.h"

namespace attnscope::detail {

void gemma_from_gguf(const GgufKeys& k, ModelConfig& c) {
  read_gguf_common(k, c);
  c.rope_layout = RopeLayout::NeoX;
  c.act = Activation::GeGLU;
  c.embed_scale = std::sqrt(static_cast<float>(c.n_embd));
}

void gemma_from_hf(const JsonKeys& k, ModelConfig& c, const HfDefaults& d) {
  read_hf_common(k, c, d);
  c.rope_layout = RopeLayout::NeoX;
  // transformers uses hidden_activation; without it Gemma runs gelu_pytorch_tanh whatever
  // hidden_act says.
  c.act = hf_activation(k, k.get_string("hidden_activation", "gelu_pytorch_tanh"), true);
  c.embed_scale = std::sqrt(static_cast<float>(c.n_embd));
}

float gemma_softcap(const JsonKeys& k, const char* key, double fallback) {
  if (k.is_null(key)) return 0.0f;
  const double cap = k.get_float(key, fallback);
  if (k.has(key) && !(cap > 0))
    fail(ErrorKind::Format, k.where() + ": " + key + " must be positive (null switches the soft-cap off)");
  return static_cast<float>(cap);
}

double gemma_query_scalar(const JsonKeys& k) {
  const double s = k.get_float("query_pre_attn_scalar", 256.0);
  if (!(s > 0)) fail(ErrorKind::Format, k.where() + ": query_pre_attn_scalar must be positive");
  return s;
}

std::vector<WeightSpec> gemma_weights(const ModelConfig& c, bool with_post_norms) {
  std::vector<WeightSpec> t = llama_layout_weights(c);
  const std::string L = "model.layers.{L}.";
  if (with_post_norms) {
    for (auto& w : t)
      if (w.gguf == "blk.{L}.ffn_norm.weight") w.hf = L + "pre_feedforward_layernorm.weight";
    t.push_back({"blk.{L}.post_attention_norm.weight",
                 L + "post_attention_layernorm.weight",
                 {c.n_embd},
                 true,
                 &LayerWeights::post_attn_norm});
    t.push_back({"blk.{L}.post_ffw_norm.weight",
                 L + "post_feedforward_layernorm.weight",
                 {c.n_embd},
                 true,
                 &LayerWeights::post_ffn_norm});
  }
  if (c.qk_norm == QkNorm::PerHead) {
    t.push_back(
        {"blk.{L}.attn_q_norm.weight", L + "self_attn.q_norm.weight", {c.head_dim}, true, &LayerWeights::q_norm});
    t.push_back(
        {"blk.{L}.attn_k_norm.weight", L + "self_attn.k_norm.weight", {c.head_dim}, true, &LayerWeights::k_norm});
  }
  for (auto& w : t)
    if (w.shape.size() == 1 && w.gguf.find("norm") != std::string::npos) w.hf_transform = HfTransform::PlusOne;
  return t;
}

namespace {
// GemmaConfig: num_key_value_heads=16, head_dim=256, max_position_embeddings=8192,
// rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True.
void from_hf(const JsonKeys& k, ModelConfig& c) { gemma_from_hf(k, c, HfDefaults{16, 256, 8192, 10000.0, 1e-6, true}); }
std::vector<WeightSpec> weights(const ModelConfig& c) { return gemma_weights(c, false); }
}  // namespace

extern const ArchSpec kArchGemma{
    "gemma",  {"gemma"}, {"GemmaForCausalLM", "gemma"}, &gemma_from_gguf,
    &from_hf, &weights,  &forward_transformer,          {"rotary_emb.inv_freq"},
    "",
};

}  // namespace attnscope::detail
