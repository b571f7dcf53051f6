// Keys (after RoPE) and values of the tokens seen so far, for generation, kept in the model's
// compute precision: float32 for the float32 dtype (the exact path), bfloat16 bits for the
// bfloat16 dtype (half the memory: 2 * n_layer * Hkv * Dh * 2 bytes per token, 32 KB for a
// Llama-3.2-1B shape instead of 64 KB).
//
// The bfloat16 scheme: keys/values are rounded to bfloat16 (nearest even) when written, and
// attention always reads them back from the cache, this call's rows included. So a prompt run in
// one call and the same prompt run token by token attend over the same rounded keys/values, and
// every query's attention output is the float32 attention over bf16(k), bf16(v) (the hooks still
// see the float32 projections). Reading decodes the [B, Tk, Hkv, Dh] rows attended to into a
// pooled float32 buffer and keeps the float32 products: oneDNN's bf16 matmul would also need q and
// the pattern in bf16, i.e. other numbers, and the decode is Tk * Hkv * Dh values per layer and
// token, small beside the weight rows a generated token reads (see notes for the measurement).
#pragma once
#include <cstdint>
#include <vector>

#include "attnscope/tensor.h"
#include "tensor/stored_weight.h"

namespace attnscope::detail {

struct KVCache {
  int n_past = 0;    // tokens already in the cache (per row)
  int capacity = 0;  // T_max

  // Room for `capacity` positions of `batch` rows in every layer, zero-filled.
  KVCache(int n_layer, int batch, int capacity, int n_head_kv, int head_dim, ComputeDtype dtype);

  // Writes layer `layer`'s k, v [B, T, Hkv, Dh] at positions n_past .. n_past + T - 1 (rounded to
  // bfloat16 in that precision). The caller checks n_past + T <= capacity.
  void store(int layer, const Tensor& k, const Tensor& v, int64_t n_past);

  // Positions [0, Tk) of one layer's keys or values as float32 rows [B, Tk, Hkv, Dh] at `data`,
  // batch rows `batch_stride` floats apart: a view of the float32 cache, or a decoded copy (held
  // by `decoded`) of the bfloat16 one.
  struct Rows {
    const float* data = nullptr;
    int64_t batch_stride = 0;
    Tensor decoded;
  };
  Rows keys(int layer, int64_t Tk) const;
  Rows values(int layer, int64_t Tk) const;

  ComputeDtype dtype() const { return dtype_; }
  size_t bytes_per_element() const { return dtype_ == ComputeDtype::BFloat16 ? 2 : 4; }
  size_t nbytes() const;  // keys and values of every layer at full capacity

 private:
  Rows read(const std::vector<Tensor>& f32, const std::vector<std::vector<uint16_t>>& bf16, int layer,
            int64_t Tk) const;

  ComputeDtype dtype_;
  int64_t batch_ = 0, row_ = 0;                   // row_: Hkv * Dh values per position
  std::vector<Tensor> k_, v_;                     // float32: per layer [B, T_max, Hkv, Dh]
  std::vector<std::vector<uint16_t>> k16_, v16_;  // bfloat16 bits: per layer, the same layout
};

}  // namespace attnscope::detail
