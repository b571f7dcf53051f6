// The list of families, lookup by name, and the table rows most families share.
#include <algorithm>
#include <cstdio>

#include "attnscope/error.h"
#include "model/arch.h"

namespace attnscope::detail {

// One per src/model/arch_<family>.cpp.
extern const ArchSpec kArchLlama, kArchQwen2, kArchGpt2, kArchQwen3, kArchGemma, kArchGemma2, kArchGemma3, kArchOlmo2,
    kArchPhi3, kArchGptNeox;

const std::vector<const ArchSpec*>& all_archs() {
  static const std::vector<const ArchSpec*> archs = {&kArchLlama, &kArchQwen2,  &kArchGpt2,   &kArchQwen3,
                                                     &kArchGemma, &kArchGemma2, &kArchGemma3, &kArchOlmo2,
                                                     &kArchPhi3,  &kArchGptNeox};
  return archs;
}

namespace {

std::string known(bool hf) {
  std::string out;
  for (const ArchSpec* a : all_archs())
    for (const auto& n : hf ? a->hf_names : a->gguf_names)
      if (!hf || n.find("For") != std::string::npos || n.find("LMHead") != std::string::npos)
        out += (out.empty() ? "" : ", ") + n;
  return out;
}

const ArchSpec* find(const std::string& name, bool hf) {
  if (name.empty()) return nullptr;
  for (const ArchSpec* a : all_archs()) {
    const auto& names = hf ? a->hf_names : a->gguf_names;
    if (std::find(names.begin(), names.end(), name) != names.end()) return a;
  }
  return nullptr;
}

}  // namespace

const ArchSpec& arch_for_gguf(const std::string& name, const std::string& where) {
  if (const ArchSpec* a = find(name, false)) return *a;
  fail(ErrorKind::Unsupported,
       where + ": architecture '" + name + "' is not supported (supported GGUF architectures: " + known(false) + ")");
}

const ArchSpec& arch_for_hf(const std::string& architecture, const std::string& model_type, const std::string& where) {
  if (const ArchSpec* a = find(architecture, true)) return *a;
  if (architecture.empty())
    if (const ArchSpec* a = find(model_type, true)) return *a;
  fail(ErrorKind::Unsupported, where + ": architecture '" +
                                   (architecture.empty() ? "model_type " + model_type : architecture) +
                                   "' is not supported (supported: " + known(true) + "; SmolLM is LlamaForCausalLM)");
}

const ArchSpec& arch_of(const ModelConfig& c) {
  for (const ArchSpec* a : all_archs())
    if (c.arch == a->name || std::find(a->gguf_names.begin(), a->gguf_names.end(), c.arch) != a->gguf_names.end())
      return *a;
  fail(ErrorKind::Unsupported, "no forward pass for architecture '" + c.arch + "'");
}

std::string layer_name(const std::string& pattern, int layer) {
  const size_t at = pattern.find("{L}");
  if (at == std::string::npos) return pattern;
  return pattern.substr(0, at) + std::to_string(layer) + pattern.substr(at + 3);
}

std::vector<WeightSpec> llama_layout_weights(const ModelConfig& c, HfTransform q_transform, HfTransform k_transform) {
  const int64_t D = c.n_embd, V = c.n_vocab, F = c.n_ff, Q = int64_t{c.n_head} * c.head_dim,
                KV = int64_t{c.n_head_kv} * c.head_dim;
  const std::string L = "model.layers.{L}.";
  return {
      {"token_embd.weight", "model.embed_tokens.weight", {V, D}, true, &ModelWeights::token_embd},
      {"output_norm.weight", "model.norm.weight", {D}, true, &ModelWeights::output_norm},
      {"output.weight", "lm_head.weight", {V, D}, !c.tied_embeddings, &ModelWeights::output},
      {"blk.{L}.attn_norm.weight", L + "input_layernorm.weight", {D}, c.pre_norms, &LayerWeights::attn_norm},
      {"blk.{L}.attn_q.weight", L + "self_attn.q_proj.weight", {Q, D}, true, &LayerWeights::wq, q_transform},
      {"blk.{L}.attn_k.weight", L + "self_attn.k_proj.weight", {KV, D}, true, &LayerWeights::wk, k_transform},
      {"blk.{L}.attn_v.weight", L + "self_attn.v_proj.weight", {KV, D}, true, &LayerWeights::wv},
      {"blk.{L}.attn_q.bias", L + "self_attn.q_proj.bias", {Q}, c.qkv_bias, &LayerWeights::bq, q_transform},
      {"blk.{L}.attn_k.bias", L + "self_attn.k_proj.bias", {KV}, c.qkv_bias, &LayerWeights::bk, k_transform},
      {"blk.{L}.attn_v.bias", L + "self_attn.v_proj.bias", {KV}, c.qkv_bias, &LayerWeights::bv},
      {"blk.{L}.attn_output.weight", L + "self_attn.o_proj.weight", {D, Q}, true, &LayerWeights::wo},
      {"blk.{L}.attn_output.bias", L + "self_attn.o_proj.bias", {D}, false, &LayerWeights::bo},
      {"blk.{L}.ffn_norm.weight", L + "post_attention_layernorm.weight", {D}, c.pre_norms, &LayerWeights::ffn_norm},
      {"blk.{L}.ffn_gate.weight", L + "mlp.gate_proj.weight", {F, D}, true, &LayerWeights::gate},
      {"blk.{L}.ffn_up.weight", L + "mlp.up_proj.weight", {F, D}, true, &LayerWeights::up},
      {"blk.{L}.ffn_down.weight", L + "mlp.down_proj.weight", {D, F}, true, &LayerWeights::down},
  };
}

}  // namespace attnscope::detail

namespace attnscope {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::SwiGLU:
      return "swiglu";
    case Activation::GeGLU:
      return "geglu_tanh";
    case Activation::GeluTanh:
      return "gelu_tanh";
    case Activation::GeluErf:
      return "gelu_erf";
  }
  return "?";
}

std::vector<std::string> architecture_features(const ModelConfig& c) {
  std::vector<std::string> out;
  auto num = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  if (c.embed_scale != 1.0f) out.push_back("embeddings scaled by " + num(c.embed_scale));
  if (c.learned_positions) out.push_back("learned position embeddings");
  if (c.rope_dim > 0 && c.rope_dim < c.head_dim)
    out.push_back("partial rotary: " + std::to_string(c.rope_dim) + " of " + std::to_string(c.head_dim) +
                  " dims per head (" + num(100.0 * c.rope_dim / c.head_dim) + "%)");
  if (c.rope_base_local > 0)
    out.push_back("rope base " + num(c.rope_base_local) + " on sliding-window layers, " + num(c.rope_base) +
                  " on global ones");
  if (c.rope_attn_factor != 1.0f) out.push_back("rope attention factor " + num(c.rope_attn_factor));
  if (c.qk_norm == QkNorm::PerHead) out.push_back("q/k RMSNorm per head");
  if (c.qk_norm == QkNorm::Full) out.push_back("q/k RMSNorm over the whole projection");
  if (!c.pre_norms) out.push_back("no pre-norms");
  if (c.post_norms) out.push_back("post-attention and post-MLP norms");
  if (c.parallel_residual) out.push_back("parallel residual (attention and MLP read the same stream)");
  if (c.attn_scale != 0.0f) out.push_back("attention scale " + num(c.attn_scale));
  if (c.attn_softcap > 0) out.push_back("attention logit soft-cap " + num(c.attn_softcap));
  if (c.final_softcap > 0) out.push_back("final logit soft-cap " + num(c.final_softcap));
  if (c.sliding_window > 0) {
    std::string layers;
    int n = 0;
    for (int l = 0; l < c.n_layer; ++l)
      if (c.layer_sliding.empty() || c.layer_sliding[static_cast<size_t>(l)]) {
        layers += (n++ ? ", " : "") + std::to_string(l);
      }
    out.push_back("sliding window " + std::to_string(c.sliding_window) + " on " +
                  (n == c.n_layer ? std::string("every layer") : "layers " + (n ? layers : std::string("none"))));
  }
  out.push_back(std::string("MLP: ") + activation_name(c.act));
  for (const auto& a : c.assumed) out.push_back("assumed: " + a);
  return out;
}

}  // namespace attnscope
