// MLX affine quantisation (as published by mlx-community): a [rows, cols] weight is stored as
//   <module>.weight  uint32 [rows, cols * bits / 32]  values packed low bits first,
//   <module>.scales  [rows, cols / group_size]  (the model's float dtype)
//   <module>.biases  [rows, cols / group_size]
// and each value is w = scale * q + bias for its group.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/tensor.h"
#include "formats/safetensors.h"

namespace attnscope {

// The [rows, cols] of a packed weight, after checking it against its scales and biases shapes
// (Format / Unsupported errors naming `where`).
Shape mlx_weight_shape(const SafetensorsTensorInfo& packed, const Shape& scales, const Shape& biases, int bits,
                       int group_size, const std::string& where);
// Dequantises; `where` names the tensor in errors. Shapes are checked against each other.
Tensor mlx_dequantize(const SafetensorsTensorInfo& packed, const Tensor& scales, const Tensor& biases, int bits,
                      int group_size, const std::string& where);

// A quantiser written from the format description, for tests and for making MLX checkpoints:
// per group, bias = min, scale = (max - min) / (2^bits - 1), q = round((w - bias) / scale).
struct MlxQuantized {
  Shape packed_shape;  // [rows, cols * bits / 32]
  std::vector<uint32_t> packed;
  Tensor scales, biases;  // [rows, cols / group_size]
};
MlxQuantized mlx_quantize(const Tensor& w, int bits, int group_size);

}  // namespace attnscope

namespace attnscope {
// Writes an MLX-style quantised copy of the Hugging Face checkpoint in src_dir to dst_dir, the
// way mlx_lm.convert lays it out: every 2-d ".weight" whose column count divides by group_size
// (projections, embeddings, lm_head) becomes packed uint32 + scales + biases stored as
// `float_dtype`; everything else is stored as `float_dtype`; config.json gains "quantization" and
// "quantization_config" {group_size, bits}.
void mlx_quantize_checkpoint(const std::string& src_dir, const std::string& dst_dir, int bits, int group_size,
                             StDtype float_dtype);
}  // namespace attnscope
