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

void from_hf(const JsonKeys& k, ModelConfig& c) {
  gemma_from_hf(k, c);
  c.post_norms = true;
  c.qk_norm = QkNorm::PerHead;
  c.attn_softcap = static_cast<float>(k.get_float("attn_logit_softcapping", 0.0));
  c.final_softcap = static_cast<float>(k.get_float("final_logit_softcapping", 0.0));
  c.sliding_window = k.get_int("sliding_window", 4096);
  c.rope_base_local = static_cast<float>(k.get_float("rope_local_base_freq", 10000.0));
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(k.get_float("query_pre_attn_scalar", c.head_dim)));
  const nlohmann::json& j = k.json();
  if (j.contains("layer_types") && j["layer_types"].is_array()) {
    if (static_cast<int>(j["layer_types"].size()) != c.n_layer)
      fail(ErrorKind::Format, k.where() + ": layer_types has " + std::to_string(j["layer_types"].size()) +
                                  " entries for " + std::to_string(c.n_layer) + " layers");
    c.layer_sliding.clear();
    for (const auto& t : j["layer_types"]) c.layer_sliding.push_back(t == "sliding_attention");
  } else {
    pattern_from_period(c, k.get_int("sliding_window_pattern", 6));
  }
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
