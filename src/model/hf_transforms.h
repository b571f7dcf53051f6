// The Hugging Face -> canonical (llama.cpp converter) layout transforms of the family tables
// (HfTransform, model/arch.h), on float32 tensors and on matrices kept in their stored type. Each
// row permutation (q/k rotate-half -> interleaved pairs, GPT-NeoX's per-head fused qkv) is one
// index function used by both forms, so the two cannot disagree.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attnscope/model.h"
#include "attnscope/tensor.h"
#include "model/arch.h"
#include "tensor/stored_weight.h"

namespace attnscope {

namespace detail {

// Source row of every output row of a row-permuting transform (PermuteQ, PermuteK, NeoxQkv) of a
// tensor with `rows` rows (a weight or its bias): out[r] = in[order[r]]. Format error naming
// `where` when the rows do not fit the config. Empty for transforms that are not permutations.
std::vector<int64_t> hf_row_order(HfTransform tr, int64_t rows, const ModelConfig& c, const std::string& where);

// The transform of a float32 tensor.
Tensor hf_transform(const Tensor& t, HfTransform tr, const ModelConfig& c, const std::string& where);
// The transform of a stored matrix, staying in its type: permutations gather stored rows (MLX
// codes, scales and biases together), Transpose moves F16/BF16 elements; the result owns its
// bytes. None returns `w` itself (still a view). std::nullopt when the matrix cannot stay stored
// (PlusOne; Transpose of block-quantised or MLX rows): decode it and use hf_transform.
std::optional<StoredWeight> hf_transform_stored(const StoredWeight& w, HfTransform tr, const ModelConfig& c,
                                                const std::string& where);

}  // namespace detail

// Rows of a q (n_heads = n_head) or k (n_heads = n_head_kv) projection, or its bias, reordered
// from rotate-half to interleaved pairs within each head. `rows` = n_heads * head_dim.
Tensor permute_rope_rows(const Tensor& w, int n_heads);
// The inverse (interleaved -> rotate-half); used by tests and writers.
Tensor unpermute_rope_rows(const Tensor& w, int n_heads);

}  // namespace attnscope
