// Qwen2: the Llama block with q/k/v biases and RoPE in rotate-half (NeoX) order, which both the
// HF checkpoint and llama.cpp's GGUF keep. HF's optional sliding window applies to the layers from
// max_window_layers on.
#include "model/arch.h"

namespace attnscope::detail {

namespace {

void from_gguf(const GgufKeys& k, ModelConfig& c) {
  read_gguf_common(k, c);
  c.rope_layout = RopeLayout::NeoX;
}

void from_hf(const JsonKeys& k, ModelConfig& c) {
  read_hf_common(k, c, false);
  c.rope_layout = RopeLayout::NeoX;
  c.qkv_bias = true;
  c.act = hf_activation(k, k.get_string("hidden_act", "silu"), true);
  if (k.get_bool("use_sliding_window", false)) {
    c.sliding_window = k.get_int("sliding_window", 0);
    const int first = k.get_int("max_window_layers", c.n_layer);
    for (int l = 0; l < c.n_layer; ++l) c.layer_sliding.push_back(l >= first);
  }
}

std::vector<WeightSpec> weights(const ModelConfig& c) { return llama_layout_weights(c); }

}  // namespace

extern const ArchSpec kArchQwen2{
    "qwen2",  {"qwen2"}, {"Qwen2ForCausalLM", "qwen2"}, &from_gguf,
    &from_hf, &weights,  &forward_transformer,          {"rotary_emb.inv_freq"},
    "",
};

}  // namespace attnscope::detail
