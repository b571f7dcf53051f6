// A weight matrix kept in the type it is stored in (GGUF F32/F16/BF16/Q8_0/legacy/K-quants,
// safetensors F32/F16/BF16, MLX affine 4/8-bit groups), usually a view of a memory-mapped file,
// and the matrix products computed from it without expanding it whole. Private to the library.
//
// Paths (chosen per call by type, rows of x and compute dtype; see stored_matmul.cpp):
//   F32 weights                       -> ops::linear (oneDNN f32): the exact reference path
//   prompts (M > kGemvMaxRows rows)   -> weights dequantised panel by panel into bf16 (or f32)
//                                        tiles in cache, oneDNN matmul on each tile
//   generation (M <= kGemvMaxRows)    -> Highway kernel: each weight row decoded into L1 and
//                                        dotted with every x row (memory bound: reads each
//                                        weight byte once per token, in its stored size)
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attnscope/ggml_types.h"
#include "attnscope/tensor.h"

namespace attnscope {

// The precision matrix products run in. Float32: activations and products in f32 (weights are
// decoded exactly). BFloat16: prompt products round activations and decoded weights to bf16
// (f32 accumulation) where the CPU has native bf16 dot products (AVX512-BF16/AMX), f32 otherwise;
// generation products with Q8_0/Q4_0/Q4_K/Q6_K weights quantise x to int8 per 32 values (as
// llama.cpp does) and use integer dot products; other generation products stay f32.
enum class ComputeDtype { Float32, BFloat16 };
std::string compute_dtype_name(ComputeDtype d);  // "float32", "bfloat16"
// "float32"/"f32", "bfloat16"/"bf16"; InvalidArgument listing the choices otherwise.
ComputeDtype parse_compute_dtype(const std::string& s);

struct StoredWeight {
  // GGUF codes (ggml block layout, rows of row_bytes), or MLX affine groups when mlx_bits > 0
  // (then `data` holds the packed uint32 codes, low bits first, and scales/biases one f32 each per
  // group of mlx_group columns).
  GgmlType type = GgmlType::F32;
  int64_t rows = 0, cols = 0;  // [out, in]: nn.Linear / GGUF layout
  const uint8_t* data = nullptr;
  uint64_t row_bytes = 0;
  int mlx_bits = 0, mlx_group = 0;
  const float* mlx_scales = nullptr;  // [rows, cols / mlx_group]
  const float* mlx_biases = nullptr;
  std::shared_ptr<const void> keepalive;  // the mapping or owned buffer behind the pointers
  // How products with this matrix run (the model's dtype, set when the model binds it).
  ComputeDtype compute = ComputeDtype::Float32;

  // A view of GGUF-coded rows [rows, cols] at `data` (row length a multiple of the block size).
  static StoredWeight gguf(GgmlType type, int64_t rows, int64_t cols, const void* data,
                           std::shared_ptr<const void> keepalive);
  // A view of a float32 tensor [rows, cols] (shares its storage).
  static StoredWeight from_tensor(const Tensor& t);
  // Takes ownership of bytes already coded as `type`.
  static StoredWeight owned(GgmlType type, int64_t rows, int64_t cols, std::vector<uint8_t> bytes);
  // MLX affine groups (bits 4 or 8, group a multiple of 16 columns: what the kernels decode):
  // packed codes [rows, cols * bits / 8 bytes] at `codes` (kept alive by `keepalive`), the
  // scales and biases [rows, cols / group] owned. InvalidArgument for other bits/groups/sizes.
  static StoredWeight mlx(int bits, int group, int64_t rows, int64_t cols, const void* codes,
                          std::shared_ptr<const void> keepalive, std::vector<float> scales, std::vector<float> biases);
  // True if mlx() takes these settings.
  static bool mlx_supported(int bits, int group, int64_t cols);

  bool is_f32() const { return mlx_bits == 0 && type == GgmlType::F32; }
  int64_t dim(int i) const { return (i == 0 || i == -2) ? rows : cols; }  // as Tensor::dim of [rows, cols]
  Shape shape() const { return {rows, cols}; }
  // Rows [r0, r0 + n) as a matrix sharing the bytes (fused qkv / gate_up split into parts).
  StoredWeight row_slice(int64_t r0, int64_t n) const;
  // An owned copy whose row r is row src_rows[r] of this one (codes, and MLX scales/biases, moved
  // together; no decoding): the stored-type form of a row permutation.
  StoredWeight gather_rows(const std::vector<int64_t>& src_rows) const;
  std::string type_name() const;  // "Q4_K", "MLX4g64", ...
  uint64_t nbytes() const;        // bytes of codes (+ MLX scales/biases)
  // Rows [r0, r0 + n) decoded to float32 into dst [n, cols].
  void dequantize_rows(int64_t r0, int64_t n, float* dst) const;
  // The whole matrix as float32: a view for F32, otherwise a decoded copy (for analysis code).
  Tensor to_tensor() const;
};

// Rows of x at or below which products take the generation kernel.
constexpr int64_t kGemvMaxRows = 8;

// y[M, rows] = x[M, cols] · W^T (+ bias[rows]); accumulate adds into y. See the paths above.
void linear(const float* x, int64_t M, const StoredWeight& W, const float* bias, float* y, bool accumulate,
            ComputeDtype dtype);

}  // namespace attnscope
