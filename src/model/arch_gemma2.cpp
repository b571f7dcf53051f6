// Gemma 2: Gemma plus tanh soft-capping of the attention logits (before the softmax) and of the
// final logits, q scaled by query_pre_attn_scalar^-1/2, post-attention and post-MLP norms, and a
// sliding window on layers 0, 2, 4, ... alternating with global ones.
// GGUF: llama.cpp's converter writes the soft-caps and the window but not the query scale
// (gemma2.attention.scale is obeyed when present); missing keys fall back to the released
// models' values and are reported by `attnscope info` as assumed.
#include <cmath>

#include "attnscope/error.h"
#include "model/arch_gemma.h"

namespace attnscope::detail {

namespace {

void alternate_windows(ModelConfig& c) {
  c.layer_sliding.clear();
  for (int l = 0; l < c.n_layer; ++l) c.layer_sliding.push_back(l % 2 == 0);
}

void from_gguf(const GgufKeys& k, ModelConfig& c) {
  gemma_from_gguf(k, c);
  c.post_norms = true;
  auto value = [&](const char* key, double released) {
    if (auto v = k.get_float(key)) return *v;
    c.assumed.push_back(k.full(key) + " = " + std::to_string(released) + " (released Gemma 2 models)");
    return released;
  };
  c.attn_softcap = static_cast<float>(value("attn_logit_softcapping", 50.0));
  c.final_softcap = static_cast<float>(value("final_logit_softcapping", 30.0));
  if (k.has("attention.sliding_window")) {
    c.sliding_window = k.get_int("attention.sliding_window", 0, 0, INT32_MAX);
  } else {
    c.sliding_window = 4096;
    c.assumed.push_back(k.full("attention.sliding_window") + " = 4096 (released Gemma 2 models)");
  }
  alternate_windows(c);
  if (auto s = k.get_float("attention.scale")) {
    c.attn_scale = static_cast<float>(*s);
  } else {
    // query_pre_attn_scalar: head_dim for 2B and 9B, n_embd / n_head for 27B (46 layers).
    const bool is_27b = c.n_layer == 46;
    const float scalar = static_cast<float>(is_27b ? c.n_embd / c.n_head : c.head_dim);
    c.attn_scale = 1.0f / std::sqrt(scalar);
    c.assumed.push_back("query_pre_attn_scalar = " + std::to_string(static_cast<int>(scalar)) +
                        (is_27b ? " (n_embd / n_head, as Gemma 2 27B)" : " (head_dim, as Gemma 2 2B/9B)"));
  }
}

// Gemma2Config: num_key_value_heads=4, head_dim=256, max_position_embeddings=8192,
// rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True, query_pre_attn_scalar=256,
// sliding_window=4096, final_logit_softcapping=30.0, attn_logit_softcapping=50.0, and
// layer_types, when absent, "sliding_attention" if bool((i + 1) % 2) else "full_attention".
void from_hf(const JsonKeys& k, ModelConfig& c) {
  gemma_from_hf(k, c, HfDefaults{4, 256, 8192, 10000.0, 1e-6, true});
  c.post_norms = true;
  c.attn_softcap = gemma_softcap(k, "attn_logit_softcapping", 50.0);
  c.final_softcap = gemma_softcap(k, "final_logit_softcapping", 30.0);
  c.sliding_window = hf_sliding_window(k, 4096);
  alternate_windows(c);
  c.layer_sliding = hf_layer_types(k, c.n_layer, c.layer_sliding);
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(gemma_query_scalar(k)));
}

std::vector<WeightSpec> weights(const ModelConfig& c) { return gemma_weights(c, true); }

}  // namespace

extern const ArchSpec kArchGemma2{
    "gemma2", {"gemma2"},           {"Gemma2ForCausalLM", "gemma2"}, &from_gguf, &from_hf,
    &weights, &forward_transformer, {"rotary_emb.inv_freq"},         "",
};

}  // namespace attnscope::detail
