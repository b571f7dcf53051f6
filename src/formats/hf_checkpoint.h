// A Hugging Face checkpoint directory as files: config.json's MLX "quantization" block and the
// safetensors shards (possibly MLX-quantised) read into float32 tensors under their own names.
// What the names mean belongs to the model side (src/model/hf_checkpoint.h).
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "attnscope/tensor.h"

namespace attnscope {

// MLX affine quantisation settings from config.json "quantization" (or the MLX-written
// "quantization_config").
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
// The quantisation block of a parsed config.json; Unsupported for other quantisation methods.
HfQuantization parse_hf_quantization(const nlohmann::json& config, const std::string& where);

// Every tensor of the safetensors files in `dir` as float32 (MLX-quantised weights dequantised,
// their .scales/.biases consumed), keyed by the checkpoint's own names. Errors: NotFound (no
// weights), Format (scales without a quantization config, unmatched scales), Unsupported (dtype).
std::map<std::string, Tensor> read_hf_tensors(const std::string& dir, const HfQuantization& quant);

// True if `dir` looks like a Hugging Face checkpoint (has config.json).
bool is_hf_checkpoint_dir(const std::string& dir);

}  // namespace attnscope
