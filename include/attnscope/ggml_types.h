// ggml's tensor types (the block layouts that GGUF files store and that the stored-weight kernels
// read): their ids, sizes, and decoding to / encoding from float32. They live with the tensors, as
// ggml keeps its quants beside its kernels; the GGUF reader (gguf.h) only names them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace attnscope {

// ggml tensor types by their on-disk id.
// clang-format off
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30,
};
// clang-format on
std::string ggml_type_name(GgmlType type);
// Elements per block and bytes per block (1 and sizeof(element) for the float types);
// throws Unsupported for a type id this project does not read.
int64_t ggml_block_elems(GgmlType type);
int64_t ggml_block_bytes(GgmlType type);
// Bytes that n elements of `type` occupy (n must be a multiple of the block size).
uint64_t ggml_row_bytes(GgmlType type, int64_t n);
// Decode n elements (a multiple of the block size) of `type` at `src` into float.
void dequantize(GgmlType type, const void* src, float* dst, int64_t n);
// Encode n floats into `type` (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K
// supported for writing; blocks are encoded on all threads); returns the bytes.
std::vector<uint8_t> quantize(GgmlType type, const float* src, int64_t n);

}  // namespace attnscope
