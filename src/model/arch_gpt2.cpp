// GPT-2: learned positions, pre-LayerNorm blocks with biases everywhere, fused q/k/v rows
// [q; k; v], GELU (tanh) MLP, output head tied to the token embedding unless a head is stored.
// HF stores Conv1D weights [in, out]; the canonical layout is llama.cpp's [out, in].
#include "attnscope/error.h"
#include "model/arch.h"

namespace attnscope::detail {

namespace {

void gpt2_defaults(ModelConfig& c) {
  c.norm = NormKind::LayerNorm;
  c.act = Activation::GeluTanh;
  c.rope_dim = 0;
  c.learned_positions = true;
  c.qkv_bias = c.out_bias = true;
  c.n_head_kv = c.n_head;
}

void from_gguf(const GgufKeys& k, ModelConfig& c) {
  c.norm = NormKind::LayerNorm;
  read_gguf_common(k, c, true);
  gpt2_defaults(c);
  if (c.n_embd % c.n_head != 0)
    fail(ErrorKind::Format, k.path() + ": embedding_length is not a multiple of head_count");
  c.head_dim = c.n_embd / c.n_head;
  // The position table is the context, whatever the metadata says.
  if (const GgufTensorInfo* wpe = k.file().find_tensor("position_embd.weight"))
    if (wpe->ne.size() == 2 && wpe->ne[1] > 0 && wpe->ne[1] <= INT32_MAX) c.n_ctx = static_cast<int>(wpe->ne[1]);
  if (c.n_ctx <= 0) c.n_ctx = 1024;
}

void from_hf(const JsonKeys& k, ModelConfig& c) {
  c.name = k.get_string("_name_or_path", "");
  c.n_vocab = k.get_int("vocab_size");
  c.n_embd = k.get_int("n_embd", 768);
  c.n_layer = k.get_int("n_layer", 12);
  c.n_head = k.get_int("n_head", 12);
  // GPT2Config: n_positions=1024 sizes the position table; an old config's n_ctx is not read.
  c.n_ctx = k.get_int("n_positions", 1024);
  c.head_dim = c.n_head > 0 ? c.n_embd / c.n_head : 0;
  if (c.n_head > 0 && c.n_embd % c.n_head != 0)
    fail(ErrorKind::Format, k.where() + ": n_embd is not a multiple of n_head");
  // GPT2MLP: inner_dim = config.n_inner if not None else 4 * hidden_size (derived, not assumed).
  c.n_ff = k.has("n_inner") ? k.get_int("n_inner") : 4 * c.n_embd;
  c.norm_eps = static_cast<float>(k.get_float("layer_norm_epsilon", 1e-5));
  gpt2_defaults(c);
  c.act = hf_activation(k, k.get_string("activation_function", "gelu_new"), false);
  if (c.act != Activation::GeluTanh)
    fail(ErrorKind::Unsupported, k.where() + ": GPT-2 activation '" + k.get_string("activation_function", "") +
                                     "' is not supported (gelu_new, the tanh approximation, is)");
  if (k.get_bool("scale_attn_by_inverse_layer_idx", false) || k.get_bool("reorder_and_upcast_attn", false))
    fail(ErrorKind::Unsupported, k.where() +
                                     ": GPT-2 variants with scale_attn_by_inverse_layer_idx or "
                                     "reorder_and_upcast_attn are not supported");
  if (!k.get_bool("scale_attn_weights", true))
    fail(ErrorKind::Unsupported, k.where() + ": GPT-2 without scale_attn_weights is not supported");
  // Absent when it equals PretrainedConfig's default, as save_pretrained writes configs.
  c.tied_embeddings = k.has("tie_word_embeddings") ? k.get_bool("tie_word_embeddings", true) : true;
}

std::vector<WeightSpec> weights(const ModelConfig& c) {
  const int64_t D = c.n_embd, V = c.n_vocab, F = c.n_ff;
  const auto T = HfTransform::Transpose;
  return {
      {"token_embd.weight", "wte.weight", {V, D}, true, &ModelWeights::token_embd},
      {"position_embd.weight", "wpe.weight", {c.n_ctx, D}, true, &ModelWeights::position_embd},
      {"output_norm.weight", "ln_f.weight", {D}, true, &ModelWeights::output_norm},
      {"output_norm.bias", "ln_f.bias", {D}, true, &ModelWeights::output_norm_b},
      {"output.weight", "lm_head.weight", {V, D}, !c.tied_embeddings, &ModelWeights::output},
      {"blk.{L}.attn_norm.weight", "h.{L}.ln_1.weight", {D}, true, &LayerWeights::attn_norm},
      {"blk.{L}.attn_norm.bias", "h.{L}.ln_1.bias", {D}, true, &LayerWeights::attn_norm_b},
      {"blk.{L}.attn_qkv.weight", "h.{L}.attn.c_attn.weight", {3 * D, D}, true, {}, T, Split::Qkv},
      {"blk.{L}.attn_qkv.bias", "h.{L}.attn.c_attn.bias", {3 * D}, true, {}, HfTransform::None, Split::Qkv},
      {"blk.{L}.attn_q.weight", "", {D, D}, true, &LayerWeights::wq},
      {"blk.{L}.attn_k.weight", "", {D, D}, true, &LayerWeights::wk},
      {"blk.{L}.attn_v.weight", "", {D, D}, true, &LayerWeights::wv},
      {"blk.{L}.attn_q.bias", "", {D}, true, &LayerWeights::bq},
      {"blk.{L}.attn_k.bias", "", {D}, true, &LayerWeights::bk},
      {"blk.{L}.attn_v.bias", "", {D}, true, &LayerWeights::bv},
      {"blk.{L}.attn_output.weight", "h.{L}.attn.c_proj.weight", {D, D}, true, &LayerWeights::wo, T},
      {"blk.{L}.attn_output.bias", "h.{L}.attn.c_proj.bias", {D}, true, &LayerWeights::bo},
      {"blk.{L}.ffn_norm.weight", "h.{L}.ln_2.weight", {D}, true, &LayerWeights::ffn_norm},
      {"blk.{L}.ffn_norm.bias", "h.{L}.ln_2.bias", {D}, true, &LayerWeights::ffn_norm_b},
      {"blk.{L}.ffn_up.weight", "h.{L}.mlp.c_fc.weight", {F, D}, true, &LayerWeights::up, T},
      {"blk.{L}.ffn_up.bias", "h.{L}.mlp.c_fc.bias", {F}, true, &LayerWeights::b_up},
      {"blk.{L}.ffn_down.weight", "h.{L}.mlp.c_proj.weight", {D, F}, true, &LayerWeights::down, T},
      {"blk.{L}.ffn_down.bias", "h.{L}.mlp.c_proj.bias", {D}, true, &LayerWeights::b_down},
  };
}

}  // namespace

extern const ArchSpec kArchGpt2{
    "gpt2",
    {"gpt2"},
    {"GPT2LMHeadModel", "GPT2Model", "gpt2"},
    &from_gguf,
    &from_hf,
    &weights,
    &forward_transformer,
    {".attn.bias", ".attn.masked_bias"},
    "transformer.",
};

}  // namespace attnscope::detail
