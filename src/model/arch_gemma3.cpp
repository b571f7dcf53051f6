// Gemma 3 (text): Gemma 2's four norms without soft-capping, RMSNorm (1 + w) on q and k per head,
// sliding-window layers in a local:global pattern (every sliding_window_pattern-th layer global),
// and separate RoPE bases: rope_local_base_freq on sliding layers, rope_theta (with any
// rope_scaling) on global ones. GGUF keys: gemma3.attention.sliding_window_pattern (a period, or
// one bool per layer), gemma3.rope.freq_base_swa, gemma3.attention.scale; absent ones fall back to
// the released models' values, reported as assumed.
#include <cmath>
#include <nlohmann/json.hpp>

#include "attnscope/error.h"
#include "model/arch_gemma.h"

namespace attnscope::detail {

namespace {

// HF: layer i is sliding unless (i + 1) is a multiple of the period.
void pattern_from_period(ModelConfig& c, int period) {
  c.layer_sliding.clear();
  for (int l = 0; l < c.n_layer; ++l) c.layer_sliding.push_back(period <= 0 || (l + 1) % period != 0);
}

void from_gguf(const GgufKeys& k, ModelConfig& c) {
  gemma_from_gguf(k, c);
  c.post_norms = true;
  c.qk_norm = QkNorm::PerHead;
  if (k.has("attention.sliding_window")) {
    c.sliding_window = k.get_int("attention.sliding_window", 0, 0, INT32_MAX);
  } else {
    c.sliding_window = 512;
    c.assumed.push_back(k.full("attention.sliding_window") + " = 512 (released Gemma 3 models)");
  }
  const std::string pattern_key = k.full("attention.sliding_window_pattern");
  if (k.file().has(pattern_key) && k.file().get(pattern_key).type == GgufValueType::ARRAY) {
    const GgufArray& a = k.file().get(pattern_key).as_array();
    if (static_cast<int>(a.size()) != c.n_layer)
      fail(ErrorKind::Format, k.path() + ": " + pattern_key + " has " + std::to_string(a.size()) + " entries for " +
                                  std::to_string(c.n_layer) + " layers");
    c.layer_sliding.clear();
    for (const auto& v : a) c.layer_sliding.push_back(v.as_bool());
  } else if (k.has("attention.sliding_window_pattern")) {
    pattern_from_period(c, k.get_int("attention.sliding_window_pattern", 0, 0, INT32_MAX));
  } else {
    pattern_from_period(c, 6);
    c.assumed.push_back(pattern_key + " = 6 (5 local : 1 global, released Gemma 3 models)");
  }
  if (auto b = k.get_float("rope.freq_base_swa")) {
    c.rope_base_local = static_cast<float>(*b);
  } else {
    c.rope_base_local = 10000.0f;
    c.assumed.push_back(k.full("rope.freq_base_swa") + " = 10000 (released Gemma 3 models)");
  }
  if (!k.has("rope.freq_base")) {
    c.rope_base = 1000000.0f;
    c.assumed.push_back(k.full("rope.freq_base") + " = 1e6 (released Gemma 3 models)");
  }
  if (auto s = k.get_float("attention.scale")) {
    c.attn_scale = static_cast<float>(*s);
  } else if (c.n_layer == 62) {  // 27B: query_pre_attn_scalar = n_embd / n_head
    c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.n_embd / c.n_head));
    c.assumed.push_back("query_pre_attn_scalar = n_embd / n_head (as Gemma 3 27B)");
  }
}

// Gemma3TextConfig: num_key_value_heads=4, head_dim=256, max_position_embeddings=131072,
// rms_norm_eps=1e-6, rope_theta=1_000_000.0, rope_local_base_freq=10_000.0,
// tie_word_embeddings=True, query_pre_attn_scalar=256, sliding_window=4096, both soft-caps None,
// and layer_types, when absent, "sliding_attention" if bool((i + 1) % sliding_window_pattern)
// (default 6). transformers 5 keeps the local base in rope_parameters.sliding_attention.
void from_hf(const JsonKeys& k, ModelConfig& c) {
  gemma_from_hf(k, c, HfDefaults{4, 256, 131072, 1e6, 1e-6, true});
  c.post_norms = true;
  c.qk_norm = QkNorm::PerHead;
  c.attn_softcap = gemma_softcap(k, "attn_logit_softcapping", 0.0);
  c.final_softcap = gemma_softcap(k, "final_logit_softcapping", 0.0);
  c.sliding_window = hf_sliding_window(k, 4096);
  const nlohmann::json& j = k.json();
  const bool v5_local = j.contains("rope_parameters") && j["rope_parameters"].is_object() &&
                        j["rope_parameters"].contains("sliding_attention");
  c.rope_base_local =
      static_cast<float>(v5_local ? JsonKeys(j["rope_parameters"]["sliding_attention"], k.where(), k.architecture())
                                        .get_float("rope_theta", 10000.0)
                                  : k.get_float("rope_local_base_freq", 10000.0));
  if (!(c.rope_base_local > 0)) fail(ErrorKind::Format, k.where() + ": the local RoPE base must be positive");
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(gemma_query_scalar(k)));
  pattern_from_period(c, k.has("layer_types") ? 0 : k.get_int("sliding_window_pattern", 6));
  c.layer_sliding = hf_layer_types(k, c.n_layer, c.layer_sliding);
}

std::vector<WeightSpec> weights(const ModelConfig& c) { return gemma_weights(c, true); }

}  // namespace

extern const ArchSpec kArchGemma3{
    "gemma3",
    {"gemma3"},
    {"Gemma3ForCausalLM", "gemma3_text"},
    &from_gguf,
    &from_hf,
    &weights,
    &forward_transformer,
    {"rotary_emb.inv_freq", "rotary_emb_local.inv_freq"},
    "",
};

}  // namespace attnscope::detail
