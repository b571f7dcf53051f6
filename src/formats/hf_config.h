// Hugging Face config.json -> ModelConfig, and Hugging Face weight names -> canonical (GGUF-style)
// names. The canonical layout is what llama.cpp's converter produces, so a checkpoint loaded from
// safetensors binds to exactly the weights its GGUF conversion would hold:
//   llama / mistral: q and k rows permuted from rotate-half to interleaved pairs
//                    (RopeLayout::Interleaved), like llama.cpp's convert permute();
//   qwen2:           kept in rotate-half order, RopeLayout::NeoX (llama.cpp does the same);
//   gpt2:            Conv1D weights ([in, out]) transposed to [out, in].
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attnscope/model.h"

namespace attnscope {

// MLX affine quantisation settings from config.json "quantization".
struct HfQuantization {
  int group_size = 0;  // 0: not quantised
  int bits = 0;
  // Per-module settings (module path such as "model.layers.0.mlp.down_proj" without ".weight");
  // {0, 0} means "left unquantised".
  std::map<std::string, std::pair<int, int>> per_module;
  bool enabled() const { return bits != 0; }
  // group_size and bits for a module (the default unless overridden).
  std::pair<int, int> for_module(const std::string& module) const;
};

struct HfConfig {
  ModelConfig model;
  std::string hf_arch;  // e.g. "LlamaForCausalLM"
  HfQuantization quant;
  int bos_id = -1, eos_id = -1;
  bool tie_declared = false;  // tie_word_embeddings as written (or the architecture's default)
};

// Parses config.json text; `where` names the file in errors. Unknown architecture: Unsupported
// naming it and the ones that are known.
HfConfig parse_hf_config(const std::string& json_text, const std::string& where);
HfConfig read_hf_config(const std::string& path);

// llama3 rope scaling: the per-frequency divisor for each of rope_dim/2 frequencies.
std::vector<float> llama3_rope_factors(int rope_dim, float rope_base, float factor, float low_freq_factor,
                                       float high_freq_factor, float original_max_pos);

// What to do with a Hugging Face tensor.
enum class HfTransform { None, PermuteQ, PermuteK, Transpose };
struct HfTensorTarget {
  std::string canonical;  // e.g. "blk.3.attn_q.weight"
  HfTransform transform = HfTransform::None;
};
// The canonical name for a Hugging Face tensor name; std::nullopt for tensors that carry nothing
// the forward pass needs (rotary inv_freq caches, GPT-2's causal-mask buffers). Unsupported for a
// name the architecture does not have.
std::optional<HfTensorTarget> map_hf_tensor(const std::string& hf_name, const ModelConfig& config);

// Rows of a q (n_heads = n_head) or k (n_heads = n_head_kv) projection, or its bias, reordered
// from rotate-half to interleaved pairs within each head. `rows` = n_heads * head_dim.
Tensor permute_rope_rows(const Tensor& w, int n_heads);
// The inverse (interleaved -> rotate-half); used by tests and writers.
Tensor unpermute_rope_rows(const Tensor& w, int n_heads);

}  // namespace attnscope
