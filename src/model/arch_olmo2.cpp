// OLMo-2: no pre-norms; RMSNorm on the attention and MLP outputs before they join the residual
// stream (HF post_attention_layernorm / post_feedforward_layernorm); RMSNorm on q and k over the
// whole projection, before the head split and RoPE; rotate-half RoPE; SwiGLU MLP.
#include "model/arch.h"

namespace attnscope::detail {

namespace {

void olmo2_defaults(ModelConfig& c) {
  c.rope_layout = RopeLayout::NeoX;
  c.pre_norms = false;
  c.post_norms = true;
  c.qk_norm = QkNorm::Full;
}

void from_gguf(const GgufKeys& k, ModelConfig& c) {
  read_gguf_common(k, c);
  olmo2_defaults(c);
}

void from_hf(const JsonKeys& k, ModelConfig& c) {
  // Olmo2Config: rms_norm_eps=1e-5 (not Llama's 1e-6), num_key_value_heads None (=
  // num_attention_heads), max_position_embeddings=2048, rope_theta=10000.0.
  read_hf_common(k, c, HfDefaults{0, 0, 2048, 10000.0, 1e-5});
  olmo2_defaults(c);
  c.act = hf_activation(k, k.get_string("hidden_act", "silu"), true);
}

std::vector<WeightSpec> weights(const ModelConfig& c) {
  std::vector<WeightSpec> t;
  for (auto& w : llama_layout_weights(c))
    if (w.field != WeightField(&LayerWeights::attn_norm) && w.field != WeightField(&LayerWeights::ffn_norm))
      t.push_back(w);
  const std::string L = "model.layers.{L}.";
  const int64_t D = c.n_embd;
  t.push_back({"blk.{L}.post_attention_norm.weight",
               L + "post_attention_layernorm.weight",
               {D},
               true,
               &LayerWeights::post_attn_norm});
  t.push_back({"blk.{L}.post_ffw_norm.weight",
               L + "post_feedforward_layernorm.weight",
               {D},
               true,
               &LayerWeights::post_ffn_norm});
  t.push_back({"blk.{L}.attn_q_norm.weight",
               L + "self_attn.q_norm.weight",
               {int64_t{c.n_head} * c.head_dim},
               true,
               &LayerWeights::q_norm});
  t.push_back({"blk.{L}.attn_k_norm.weight",
               L + "self_attn.k_norm.weight",
               {int64_t{c.n_head_kv} * c.head_dim},
               true,
               &LayerWeights::k_norm});
  return t;
}

}  // namespace

extern const ArchSpec kArchOlmo2{
    "olmo2",  {"olmo2"}, {"Olmo2ForCausalLM", "olmo2"}, &from_gguf,
    &from_hf, &weights,  &forward_transformer,          {"rotary_emb.inv_freq"},
    "",
};

}  // namespace attnscope::detail
