// Phi-3: the Llama block with a fused qkv_proj ([q; k; v] rows) and a fused gate_up_proj
// ([gate; up] rows), both split into canonical views at bind time; rotate-half RoPE, optionally
// partial (partial_rotary_factor) and with longrope ("su") scaling: short_factor divisors, or
// long_factor ones once a sequence is longer than original_max_position_embeddings, and cos/sin
// multiplied by the attention factor. HF applies sliding_window on every layer; so does attnscope
// (llama.cpp disables Phi-3's window).
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "attnscope/error.h"
#include "model/arch.h"

namespace attnscope::detail {

namespace {

std::vector<float> factors(const GgufKeys& k, const std::string& tensor, int n) {
  const GgufTensorInfo* info = k.file().find_tensor(tensor);
  if (!info) return {};
  if (info->numel() != n)
    fail(ErrorKind::Format, k.path() + ": " + tensor + " has " + std::to_string(info->numel()) + " entries, expected " +
                                std::to_string(n));
  const Tensor t = k.file().load_tensor(tensor);
  return std::vector<float>(t.data(), t.data() + t.numel());
}

void from_gguf(const GgufKeys& k, ModelConfig& c) {
  read_gguf_common(k, c);
  c.rope_layout = RopeLayout::NeoX;
  c.sliding_window = k.get_int("attention.sliding_window", 0, 0, INT32_MAX);
  c.rope_freq_factors = factors(k, "rope_factors_short.weight", c.rope_dim / 2);
  c.rope_freq_factors_long = factors(k, "rope_factors_long.weight", c.rope_dim / 2);
  if (!c.rope_freq_factors_long.empty()) {
    c.rope_long_after = k.get_int("rope.scaling.original_context_length", c.n_ctx, 1, INT32_MAX);
    c.rope_attn_factor = static_cast<float>(k.get_float("rope.scaling.attn_factor", 1.0));
  }
}

void longrope(const JsonKeys& k, ModelConfig& c) {
  const nlohmann::json& j = k.json();
  // transformers 5 writes the same keys into rope_parameters (with rope_theta).
  const char* key =
      j.contains("rope_parameters") && j["rope_parameters"].is_object() ? "rope_parameters" : "rope_scaling";
  if (!j.contains(key) || j[key].is_null()) return;
  const JsonKeys rs(j[key], k.where(), k.architecture());
  const std::string type = rs.get_string("rope_type", rs.get_string("type", ""));
  if (type != "longrope" && type != "su") return;
  auto list = [&](const char* key) {
    const nlohmann::json& v = rs.json().contains(key) ? rs.json()[key] : nlohmann::json();
    if (!v.is_array() || static_cast<int>(v.size()) != c.rope_dim / 2)
      fail(ErrorKind::Format, k.where() + ": rope_scaling." + key +
                                  " must list rope_dim/2 = " + std::to_string(c.rope_dim / 2) + " numbers");
    std::vector<float> out;
    for (const auto& x : v) {
      if (!x.is_number() || !(x.get<double>() > 0))
        fail(ErrorKind::Format, k.where() + ": rope_scaling." + key + " has a non-positive entry");
      out.push_back(static_cast<float>(x.get<double>()));
    }
    return out;
  };
  c.rope_freq_factors = list("short_factor");
  c.rope_freq_factors_long = list("long_factor");
  // Phi3Config(original_max_position_embeddings=4096): a number, not max_position_embeddings.
  const int original = k.get_int("original_max_position_embeddings", 4096);
  c.rope_long_after = original;
  // transformers: attention_factor if given, else sqrt(1 + ln(scale) / ln(original)) for scale > 1.
  const double scale = rs.get_float("factor", static_cast<double>(c.n_ctx) / original);
  const double dflt = scale <= 1.0 ? 1.0 : std::sqrt(1.0 + std::log(scale) / std::log(static_cast<double>(original)));
  c.rope_attn_factor = static_cast<float>(rs.get_float("attention_factor", dflt));
}

void from_hf(const JsonKeys& k, ModelConfig& c) {
  // Phi3Config: rms_norm_eps=1e-5, max_position_embeddings=4096, rope_theta=10000.0,
  // num_key_value_heads None (= num_attention_heads), partial_rotary_factor=1.0,
  // sliding_window=None.
  read_hf_common(k, c, HfDefaults{0, 0, 4096, 10000.0, 1e-5});
  c.rope_layout = RopeLayout::NeoX;
  // transformers 5 keeps partial_rotary_factor in rope_parameters (and it wins there).
  const nlohmann::json& j = k.json();
  const bool in_rope = j.contains("rope_parameters") && j["rope_parameters"].is_object() &&
                       j["rope_parameters"].contains("partial_rotary_factor");
  const double partial =
      in_rope ? JsonKeys(j["rope_parameters"], k.where(), k.architecture()).get_float("partial_rotary_factor", 1.0)
              : k.get_float("partial_rotary_factor", 1.0);
  if (!(partial >= 0 && partial <= 1))
    fail(ErrorKind::Format, k.where() + ": partial_rotary_factor must lie in [0, 1]");
  c.rope_dim = static_cast<int>(c.head_dim * partial);
  c.rope_dim -= c.rope_dim % 2;
  c.act = hf_activation(k, k.get_string("hidden_act", "silu"), true);
  c.sliding_window = hf_sliding_window(k, 0);
  longrope(k, c);
}

std::vector<WeightSpec> weights(const ModelConfig& c) {
  auto t = llama_layout_weights(c);
  // q, k, v, gate and up come from the fused tensors
  const std::vector<WeightField> fused = {&LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::gate,
                                          &LayerWeights::up, &LayerWeights::bq, &LayerWeights::bk, &LayerWeights::bv};
  for (auto& w : t)
    if (std::find(fused.begin(), fused.end(), w.field) != fused.end()) w.hf.clear();
  const int64_t D = c.n_embd, F = c.n_ff, QKV = int64_t{c.n_head + 2 * c.n_head_kv} * c.head_dim;
  const std::string L = "model.layers.{L}.";
  t.insert(
      t.begin(),
      {{"blk.{L}.attn_qkv.weight", L + "self_attn.qkv_proj.weight", {QKV, D}, true, {}, HfTransform::None, Split::Qkv},
       {"blk.{L}.ffn_up.weight",
        L + "mlp.gate_up_proj.weight",
        {2 * F, D},
        true,
        {},
        HfTransform::None,
        Split::GateUp}});
  return t;
}

}  // namespace

extern const ArchSpec kArchPhi3{
    "phi3",   {"phi3"}, {"Phi3ForCausalLM", "phi3"}, &from_gguf,
    &from_hf, &weights, &forward_transformer,        {"rotary_emb.inv_freq"},
    "",
};

}  // namespace attnscope::detail
