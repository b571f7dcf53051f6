// GPT-NeoX (Pythia): LayerNorm with bias, fused query_key_value laid out per head in HF
// ([q_h; k_h; v_h] for each head; llama.cpp's converter regroups it to [q; k; v], the canonical
// layout), biases on every Linear, partial rotary (rotary_pct of each head, rotate-half),
// parallel residual (x + attn(ln1(x)) + mlp(ln2(x))) when use_parallel_residual, plain GELU MLP
// with the exact erf GELU of hidden_act "gelu" (llama.cpp uses the tanh approximation), untied
// output head (embed_out).
#include <nlohmann/json.hpp>

#include "attnscope/error.h"
#include "model/arch.h"

namespace attnscope::detail {

namespace {

void neox_defaults(ModelConfig& c) {
  c.norm = NormKind::LayerNorm;
  c.rope_layout = RopeLayout::NeoX;
  c.qkv_bias = c.out_bias = true;
}

void from_gguf(const GgufKeys& k, ModelConfig& c) {
  c.norm = NormKind::LayerNorm;
  read_gguf_common(k, c);
  neox_defaults(c);
  c.parallel_residual = k.get_bool("use_parallel_residual").value_or(true);
  if (!k.has("use_parallel_residual")) c.assumed.push_back(k.full("use_parallel_residual") + " = true (Pythia)");
  // GGUF names no activation; Pythia's config says "gelu", the exact erf GELU.
  c.act = Activation::GeluErf;
  c.assumed.push_back("activation gelu (exact erf) as Pythia's hidden_act; the GGUF does not say");
  if (!k.has("rope.freq_base")) c.assumed.push_back(k.full("rope.freq_base") + " = 10000 (Pythia's rotary_emb_base)");
}

void from_hf(const JsonKeys& k, ModelConfig& c) {
  c.name = k.get_string("_name_or_path", "");
  c.n_vocab = k.get_int("vocab_size");
  c.n_embd = k.get_int("hidden_size");
  c.n_layer = k.get_int("num_hidden_layers");
  c.n_head = k.get_int("num_attention_heads");
  c.n_head_kv = c.n_head;
  c.head_dim = c.n_head > 0 ? c.n_embd / c.n_head : 0;
  if (c.n_head > 0 && c.n_embd % c.n_head != 0)
    fail(ErrorKind::Format, k.where() + ": hidden_size is not a multiple of num_attention_heads");
  // GPTNeoXConfig: intermediate_size=24576 (a fixed number, not 4 * hidden_size),
  // max_position_embeddings=2048, rotary_pct=0.25, rotary_emb_base=10000, layer_norm_eps=1e-5.
  c.n_ff = k.get_int("intermediate_size", 24576);
  c.n_ctx = k.get_int("max_position_embeddings", 2048);
  // transformers 5 moves rotary_emb_base and rotary_pct into rope_parameters (rope_theta,
  // partial_rotary_factor), where they win.
  const nlohmann::json& j = k.json();
  const nlohmann::json none = nlohmann::json::object();
  const bool v5 = j.contains("rope_parameters") && j["rope_parameters"].is_object();
  const JsonKeys rp(v5 ? j["rope_parameters"] : none, k.where(), k.architecture());
  if (v5 && rp.get_string("rope_type", "default") != "default")
    fail(ErrorKind::Unsupported,
         k.where() + ": rope_parameters type '" + rp.get_string("rope_type", "") + "' is not supported for GPT-NeoX");
  const double pct =
      rp.has("partial_rotary_factor") ? rp.get_float("partial_rotary_factor", 0.25) : k.get_float("rotary_pct", 0.25);
  if (!(pct >= 0 && pct <= 1)) fail(ErrorKind::Format, k.where() + ": rotary_pct must lie in [0, 1]");
  c.rope_dim = static_cast<int>(c.head_dim * pct);
  if (rp.has("rope_theta"))
    c.rope_base = static_cast<float>(rp.get_float("rope_theta", 10000.0));
  else if (k.has("rope_theta") && !k.has("rotary_emb_base"))
    c.rope_base = static_cast<float>(k.get_float("rope_theta", 10000.0));
  else
    c.rope_base = static_cast<float>(k.get_float("rotary_emb_base", 10000.0));
  if (!(c.rope_base > 0)) fail(ErrorKind::Format, k.where() + ": rotary_emb_base must be positive");
  c.norm_eps = static_cast<float>(k.get_float("layer_norm_eps", 1e-5));
  neox_defaults(c);
  if (!k.get_bool("attention_bias", true)) c.qkv_bias = c.out_bias = false;
  c.parallel_residual = k.get_bool("use_parallel_residual", true);
  c.act = hf_activation(k, k.get_string("hidden_act", "gelu"), false);
  c.tied_embeddings = k.has("tie_word_embeddings") && k.get_bool("tie_word_embeddings", false);
  if (k.has("rope_scaling")) fail(ErrorKind::Unsupported, k.where() + ": rope_scaling is not supported for GPT-NeoX");
}

std::vector<WeightSpec> weights(const ModelConfig& c) {
  const int64_t D = c.n_embd, V = c.n_vocab, F = c.n_ff;
  const bool b = c.qkv_bias;
  const std::string L = "gpt_neox.layers.{L}.";
  const auto Qkv = HfTransform::NeoxQkv;
  return {
      {"token_embd.weight", "gpt_neox.embed_in.weight", {V, D}, true, &ModelWeights::token_embd},
      {"output_norm.weight", "gpt_neox.final_layer_norm.weight", {D}, true, &ModelWeights::output_norm},
      {"output_norm.bias", "gpt_neox.final_layer_norm.bias", {D}, true, &ModelWeights::output_norm_b},
      {"output.weight", "embed_out.weight", {V, D}, !c.tied_embeddings, &ModelWeights::output},
      {"blk.{L}.attn_norm.weight", L + "input_layernorm.weight", {D}, true, &LayerWeights::attn_norm},
      {"blk.{L}.attn_norm.bias", L + "input_layernorm.bias", {D}, true, &LayerWeights::attn_norm_b},
      {"blk.{L}.attn_qkv.weight", L + "attention.query_key_value.weight", {3 * D, D}, true, {}, Qkv, Split::Qkv},
      {"blk.{L}.attn_qkv.bias", L + "attention.query_key_value.bias", {3 * D}, b, {}, Qkv, Split::Qkv},
      {"blk.{L}.attn_q.weight", "", {D, D}, true, &LayerWeights::wq},
      {"blk.{L}.attn_k.weight", "", {D, D}, true, &LayerWeights::wk},
      {"blk.{L}.attn_v.weight", "", {D, D}, true, &LayerWeights::wv},
      {"blk.{L}.attn_q.bias", "", {D}, b, &LayerWeights::bq},
      {"blk.{L}.attn_k.bias", "", {D}, b, &LayerWeights::bk},
      {"blk.{L}.attn_v.bias", "", {D}, b, &LayerWeights::bv},
      {"blk.{L}.attn_output.weight", L + "attention.dense.weight", {D, D}, true, &LayerWeights::wo},
      {"blk.{L}.attn_output.bias", L + "attention.dense.bias", {D}, c.out_bias, &LayerWeights::bo},
      {"blk.{L}.ffn_norm.weight", L + "post_attention_layernorm.weight", {D}, true, &LayerWeights::ffn_norm},
      {"blk.{L}.ffn_norm.bias", L + "post_attention_layernorm.bias", {D}, true, &LayerWeights::ffn_norm_b},
      {"blk.{L}.ffn_up.weight", L + "mlp.dense_h_to_4h.weight", {F, D}, true, &LayerWeights::up},
      {"blk.{L}.ffn_up.bias", L + "mlp.dense_h_to_4h.bias", {F}, c.out_bias, &LayerWeights::b_up},
      {"blk.{L}.ffn_down.weight", L + "mlp.dense_4h_to_h.weight", {D, F}, true, &LayerWeights::down},
      {"blk.{L}.ffn_down.bias", L + "mlp.dense_4h_to_h.bias", {D}, c.out_bias, &LayerWeights::b_down},
  };
}

}  // namespace

extern const ArchSpec kArchGptNeox{
    "gptneox",
    {"gptneox"},
    {"GPTNeoXForCausalLM", "gpt_neox"},
    &from_gguf,
    &from_hf,
    &weights,
    &forward_transformer,
    {".attention.bias", ".attention.masked_bias", "rotary_emb.inv_freq"},
    "",
};

}  // namespace attnscope::detail
