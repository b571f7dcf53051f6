// Qwen3: the Llama block with RMSNorm on q and k per head (over head_dim, before RoPE), no q/k/v
// biases, RoPE in rotate-half (NeoX) order, head_dim given explicitly.
#include "model/arch.h"

namespace attnscope::detail {

namespace {

void from_gguf(const GgufKeys& k, ModelConfig& c) {
  read_gguf_common(k, c);
  c.rope_layout = RopeLayout::NeoX;
  c.qk_norm = QkNorm::PerHead;
}

void from_hf(const JsonKeys& k, ModelConfig& c) {
  // Qwen3Config: num_key_value_heads=32, head_dim=128 (not hidden_size / num_attention_heads),
  // max_position_embeddings=32768, rope_theta=10000.0, rms_norm_eps=1e-6.
  read_hf_common(k, c, HfDefaults{32, 128, 32768});
  c.rope_layout = RopeLayout::NeoX;
  c.qk_norm = QkNorm::PerHead;
  c.act = hf_activation(k, k.get_string("hidden_act", "silu"), true);
  qwen_sliding_layers(k, c);
}

std::vector<WeightSpec> weights(const ModelConfig& c) {
  auto t = llama_layout_weights(c);
  const std::string L = "model.layers.{L}.self_attn.";
  t.push_back({"blk.{L}.attn_q_norm.weight", L + "q_norm.weight", {c.head_dim}, true, &LayerWeights::q_norm});
  t.push_back({"blk.{L}.attn_k_norm.weight", L + "k_norm.weight", {c.head_dim}, true, &LayerWeights::k_norm});
  return t;
}

}  // namespace

extern const ArchSpec kArchQwen3{
    "qwen3",  {"qwen3"}, {"Qwen3ForCausalLM", "qwen3"}, &from_gguf,
    &from_hf, &weights,  &forward_transformer,          {"rotary_emb.inv_freq"},
    "",
};

}  // namespace attnscope::detail
