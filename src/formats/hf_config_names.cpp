// Hugging Face tensor names -> canonical (GGUF-style) names, and the q/k row permutation.
#include <cstring>

#include "attnscope/error.h"
#include "formats/hf_config.h"

namespace attnscope {
namespace {

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Splits "<prefix>.<L>.<rest>" when `name` starts with `prefix` followed by a layer number.
bool split_layer(const std::string& name, const std::string& prefix, int& layer, std::string& rest) {
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  size_t i = prefix.size(), j = i;
  while (j < name.size() && j - i < 6 && name[j] >= '0' && name[j] <= '9') ++j;
  if (j == i || j >= name.size() || name[j] != '.') return false;
  layer = std::stoi(name.substr(i, j - i));
  rest = name.substr(j + 1);
  return true;
}

// "x.weight" -> ("x", ".weight"); only the parameter suffixes a checkpoint uses.
bool split_param(const std::string& name, std::string& module, std::string& param) {
  for (const char* p : {".weight", ".bias"})
    if (ends_with(name, p)) {
      module = name.substr(0, name.size() - std::strlen(p));
      param = p;
      return true;
    }
  return false;
}

std::optional<HfTensorTarget> map_llama(const std::string& name, const ModelConfig& c) {
  if (ends_with(name, "rotary_emb.inv_freq")) return std::nullopt;
  std::string module, param;
  if (!split_param(name, module, param)) return {};
  if (module == "model.embed_tokens") return HfTensorTarget{"token_embd" + param};
  if (module == "model.norm") return HfTensorTarget{"output_norm" + param};
  if (module == "lm_head") return HfTensorTarget{"output" + param};
  int L;
  std::string rest;
  if (!split_layer(module, "model.layers.", L, rest) || L >= c.n_layer) return {};
  const std::string blk = "blk." + std::to_string(L) + ".";
  // Q and K move to interleaved pairs unless the config keeps rotate-half (qwen2 -> NeoX).
  const bool permute = c.rope_layout == RopeLayout::Interleaved;
  if (rest == "self_attn.q_proj")
    return HfTensorTarget{blk + "attn_q" + param, permute ? HfTransform::PermuteQ : HfTransform::None};
  if (rest == "self_attn.k_proj")
    return HfTensorTarget{blk + "attn_k" + param, permute ? HfTransform::PermuteK : HfTransform::None};
  static const std::pair<const char*, const char*> plain[] = {
      {"self_attn.v_proj", "attn_v"},  {"self_attn.o_proj", "attn_output"},
      {"mlp.gate_proj", "ffn_gate"},   {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"},   {"input_layernorm", "attn_norm"},
      {"post_attention_layernorm", "ffn_norm"}};
  for (const auto& [hf, canon] : plain)
    if (rest == hf) return HfTensorTarget{blk + canon + param};
  return {};
}

std::optional<HfTensorTarget> map_gpt2(std::string name, const ModelConfig& c) {
  if (name == "lm_head.weight") return HfTensorTarget{"output.weight"};
  if (starts_with(name, "transformer.")) name = name.substr(12);
  std::string module, param;
  if (!split_param(name, module, param)) return {};
  if (module == "wte") return HfTensorTarget{"token_embd" + param};
  if (module == "wpe") return HfTensorTarget{"position_embd" + param};
  if (module == "ln_f") return HfTensorTarget{"output_norm" + param};
  int L;
  std::string rest;
  if (!split_layer(module, "h.", L, rest) || L >= c.n_layer) return {};
  const std::string blk = "blk." + std::to_string(L) + ".";
  // Conv1D stores [in, out]; the canonical layout (and llama.cpp's) is [out, in].
  const HfTransform t = param == ".weight" ? HfTransform::Transpose : HfTransform::None;
  if (rest == "attn.c_attn") return HfTensorTarget{blk + "attn_qkv" + param, t};
  if (rest == "attn.c_proj") return HfTensorTarget{blk + "attn_output" + param, t};
  if (rest == "mlp.c_fc") return HfTensorTarget{blk + "ffn_up" + param, t};
  if (rest == "mlp.c_proj") return HfTensorTarget{blk + "ffn_down" + param, t};
  if (rest == "ln_1") return HfTensorTarget{blk + "attn_norm" + param};
  if (rest == "ln_2") return HfTensorTarget{blk + "ffn_norm" + param};
  return {};
}

// Row r of the output (interleaved) takes row src(r) of the input (rotate-half), per head:
// interleaved row 2i+j holds rotate-half row j*hd/2 + i.
Tensor reorder_rows(const Tensor& w, int n_heads, bool to_interleaved) {
  const int64_t rows = w.ndim() >= 1 ? w.dim(0) : 0;
  if (n_heads <= 0 || rows % n_heads != 0 || (rows / n_heads) % 2 != 0)
    fail(ErrorKind::Format, "cannot permute a q/k projection of " + std::to_string(rows) + " rows into " +
                                std::to_string(n_heads) + " heads of even size");
  const int64_t hd = rows / n_heads, half = hd / 2;
  const int64_t cols = rows ? w.numel() / rows : 0;
  Tensor out(w.shape());
  const float* src = w.data();
  float* dst = out.data();
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        int64_t inter = h * hd + 2 * i + j, rot = h * hd + j * half + i;
        int64_t d = to_interleaved ? inter : rot, s = to_interleaved ? rot : inter;
        std::copy(src + s * cols, src + (s + 1) * cols, dst + d * cols);
      }
  return out;
}

}  // namespace

std::optional<HfTensorTarget> map_hf_tensor(const std::string& hf_name, const ModelConfig& config) {
  std::optional<HfTensorTarget> r;
  if (config.family == ArchFamily::Gpt2) {
    // GPT-2's causal mask buffers are not weights.
    if (ends_with(hf_name, ".attn.bias") || ends_with(hf_name, ".attn.masked_bias")) return std::nullopt;
    r = map_gpt2(hf_name, config);
  } else {
    if (ends_with(hf_name, "rotary_emb.inv_freq")) return std::nullopt;
    r = map_llama(hf_name, config);
  }
  if (!r)
    fail(ErrorKind::Unsupported, "tensor '" + hf_name + "' is not part of a " + config.arch +
                                     " model as attnscope knows it");
  return r;
}

Tensor permute_rope_rows(const Tensor& w, int n_heads) { return reorder_rows(w, n_heads, true); }
Tensor unpermute_rope_rows(const Tensor& w, int n_heads) { return reorder_rows(w, n_heads, false); }

}  // namespace attnscope
