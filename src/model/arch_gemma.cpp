// Gemma (1): the Llama block with a GeGLU MLP (tanh GELU, gelu_pytorch_tanh), embeddings scaled by
// sqrt(n_embd), RMSNorm computing x * (1 + w) (GGUF stores 1 + w, as llama.cpp's converter
// writes it), head_dim independent of n_embd / n_head, RoPE in rotate-half order, tied head.
#include "model/arch_gemma.h"

#include <cmath>

namespace attnscope::detail {

void gemma_from_gguf(const GgufKeys& k, ModelConfig& c) {
  read_gguf_common(k, c);
  c.rope_layout = RopeLayout::NeoX;
  c.act = Activation::GeGLU;
  c.embed_scale = std::sqrt(static_cast<float>(c.n_embd));
}

void gemma_from_hf(const JsonKeys& k, ModelConfig& c) {
  read_hf_common(k, c, true);
  c.rope_layout = RopeLayout::NeoX;
  // transformers uses hidden_activation; without it Gemma runs gelu_pytorch_tanh whatever
  // hidden_act says.
  c.act = hf_activation(k, k.get_string("hidden_activation", "gelu_pytorch_tanh"), true);
  c.embed_scale = std::sqrt(static_cast<float>(c.n_embd));
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
std::vector<WeightSpec> weights(const ModelConfig& c) { return gemma_weights(c, false); }
}  // namespace

extern const ArchSpec kArchGemma{
    "gemma",
    {"gemma"},
    {"GemmaForCausalLM", "gemma"},
    &gemma_from_gguf,
    &gemma_from_hf,
    &weights,
    &forward_transformer,
    {"rotary_emb.inv_freq"},
    "",
};

}  // namespace attnscope::detail
