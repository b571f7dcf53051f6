// A Hugging Face checkpoint directory as files: config.json's MLX "quantization" block and the
// safetensors shards (possibly MLX-quantised), as stored or read into float32 tensors, under their
// own names.
// What the names mean belongs to the model side (src/model/hf_checkpoint.h).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <utility>

#include "attnscope/tensor.h"
#include "formats/safetensors.h"
#include "tensor/stored_weight.h"

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

// One tensor of a checkpoint as stored, not decoded: a safetensors tensor, or an MLX-quantised
// weight (its packed U32 codes with the matching .scales and .biases). The data pointers are
// into the file mapping that `keepalive` holds.
struct HfStoredTensor {
  SafetensorsTensorInfo info;            // the tensor; for MLX the packed codes
  SafetensorsTensorInfo scales, biases;  // MLX only
  int bits = 0, group_size = 0;          // MLX only (bits 0: not quantised)
  Shape shape;                           // logical shape (MLX: [rows, cols], checked against scales/biases)
  std::shared_ptr<const void> keepalive, scales_keepalive, biases_keepalive;  // the mappings behind them
  std::string where;                                                          // "<file>: tensor '<name>'", for errors
  std::string alias_of;  // the stored tensor this name shares (__metadata__ alias), or empty

  bool mlx() const { return bits != 0; }
  uint64_t nbytes() const { return info.nbytes() + scales.nbytes() + biases.nbytes(); }  // in the files
  // As float32 (MLX dequantised): what read_hf_tensors gives.
  Tensor to_tensor() const;
  // A 2-d matrix in its stored type, without decoding: F16/BF16 as a view of the mapping, MLX
  // 4/8-bit (groups of a multiple of 16) with the codes a view and scales/biases as f32.
  // std::nullopt for F32 and every other case (those are read with to_tensor()).
  std::optional<StoredWeight> stored() const;
};

// Every tensor of the safetensors files in `dir` as stored (MLX .scales/.biases attached to their
// weight), keyed by the checkpoint's own names; a name that __metadata__ records as an alias of a
// stored tensor (safetensors' save_model drops shared tensors so) maps to that tensor. Errors: NotFound (no weights),
// Format (scales without a quantization config, unmatched scales, shapes that do not fit), Unsupported (dtype).
std::map<std::string, HfStoredTensor> open_hf_tensors(const std::string& dir, const HfQuantization& quant,
                                                      FileBacking backing = FileBacking::Mapped);
// The same tensors decoded to float32.
std::map<std::string, Tensor> read_hf_tensors(const std::string& dir, const HfQuantization& quant);

// True if `dir` looks like a Hugging Face checkpoint (has config.json).
bool is_hf_checkpoint_dir(const std::string& dir);

}  // namespace attnscope
