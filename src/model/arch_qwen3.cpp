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
  read_hf_common(k, c, false);
  c.rope_layout = RopeLayout::NeoX;
  c.qk_norm = QkNorm::PerHead;
  c.act = hf_activation(k, k.get_string("hidden_act", "silu"), true);
  if (k.get_bool("use_sliding_window", false)) {
    c.sliding_window = k.get_int("sliding_window", 0);
    const int first = k.get_int("max_window_layers", c.n_layer);
    for (int l = 0; l < c.n_layer; ++l) c.layer_sliding.push_back(l >= first);
  }
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
