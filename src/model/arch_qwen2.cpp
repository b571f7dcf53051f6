// Qwen2: the Llama block with q/k/v biases and RoPE in rotate-half (NeoX) order, which both the
// HF checkpoint and llama.cpp's GGUF keep. HF's optional sliding window: see qwen_sliding_layers.
#include <algorithm>

#include "model/arch.h"

namespace attnscope::detail {

void qwen_sliding_layers(const JsonKeys& k, ModelConfig& c) {
  const bool use = k.get_bool("use_sliding_window", false);
  const int window = use ? hf_sliding_window(k, 4096) : 0;
  std::vector<bool> rule(static_cast<size_t>(c.n_layer), false);
  if (window > 0) {
    const int first = k.get_int("max_window_layers", 28);
    for (int l = first; l < c.n_layer; ++l) rule[static_cast<size_t>(l)] = true;
  }
  const std::vector<bool> sliding = hf_layer_types(k, c.n_layer, rule);
  c.sliding_window = 0;
  c.layer_sliding.clear();
  // A layer marked sliding runs full attention when there is no window, so only a window that
  // some layer uses is kept.
  if (window > 0 && std::find(sliding.begin(), sliding.end(), true) != sliding.end()) {
    c.sliding_window = window;
    c.layer_sliding = sliding;
  }
}

namespace {

void from_gguf(const GgufKeys& k, ModelConfig& c) {
  read_gguf_common(k, c);
  c.rope_layout = RopeLayout::NeoX;
}

void from_hf(const JsonKeys& k, ModelConfig& c) {
  // Qwen2Config: num_key_value_heads=32, max_position_embeddings=32768, rope_theta=10000.0,
  // rms_norm_eps=1e-6; head_dim is not a Qwen2 key (hidden_size / num_attention_heads).
  read_hf_common(k, c, HfDefaults{32, 0, 32768});
  c.rope_layout = RopeLayout::NeoX;
  c.qkv_bias = true;  // Qwen2Attention's q/k/v projections always have bias=True
  c.act = hf_activation(k, k.get_string("hidden_act", "silu"), true);
  qwen_sliding_layers(k, c);
}

std::vector<WeightSpec> weights(const ModelConfig& c) { return llama_layout_weights(c); }

}  // namespace

extern const ArchSpec kArchQwen2{
    "qwen2",  {"qwen2"}, {"Qwen2ForCausalLM", "qwen2"}, &from_gguf,
    &from_hf, &weights,  &forward_transformer,          {"rotary_emb.inv_freq"},
    "",
};

}  // namespace attnscope::detail
