// Llama and Mistral (and SmolLM, TinyLlama, the stories models, the toy model): pre-RMSNorm
// blocks, RoPE on interleaved pairs in the canonical layout (the HF loader permutes q/k rows like
// llama.cpp's converter), grouped-query attention, SwiGLU MLP. Mistral adds a sliding window on
// every layer (HF sliding_window; GGUF llama.attention.sliding_window, which llama.cpp's own
// converter drops: such a file runs with full attention, as llama.cpp does).
#include "model/arch.h"

namespace attnscope::detail {

namespace {

void from_gguf(const GgufKeys& k, ModelConfig& c) {
  read_gguf_common(k, c);
  c.rope_layout = RopeLayout::Interleaved;
  c.sliding_window = k.get_int("attention.sliding_window", 0, 0, INT32_MAX);
}

void from_hf(const JsonKeys& k, ModelConfig& c) {
  const bool mistral = k.architecture() == "MistralForCausalLM" || k.architecture() == "mistral";
  c.arch = mistral ? "mistral" : "llama";
  // LlamaConfig: num_key_value_heads and head_dim None (derived), max_position_embeddings=2048,
  // rope_theta=10000.0, rms_norm_eps=1e-6. MistralConfig: num_key_value_heads=8,
  // max_position_embeddings=4096 * 32, sliding_window=4096 on every layer (None: no window); it
  // ignores layer_types ("Detected Mistral model with layer_types ...": only a warning).
  read_hf_common(k, c, mistral ? HfDefaults{8, 0, 4096 * 32} : HfDefaults{});
  c.rope_layout = RopeLayout::Interleaved;
  c.act = hf_activation(k, k.get_string("hidden_act", "silu"), true);
  if (mistral) c.sliding_window = hf_sliding_window(k, 4096);
}

std::vector<WeightSpec> weights(const ModelConfig& c) {
  return llama_layout_weights(c, HfTransform::PermuteQ, HfTransform::PermuteK);
}

}  // namespace

extern const ArchSpec kArchLlama{
    "llama",
    {"llama", "mistral"},
    {"LlamaForCausalLM", "MistralForCausalLM", "llama", "mistral"},
    &from_gguf,
    &from_hf,
    &weights,
    &forward_transformer,
    {"rotary_emb.inv_freq"},
    "",
};

}  // namespace attnscope::detail
