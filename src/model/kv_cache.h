// Keys (after RoPE) and values of the tokens seen so far, for generation.
#pragma once
#include <vector>

#include "attnscope/tensor.h"

namespace attnscope::detail {

struct KVCache {
  int n_past = 0;    // tokens already in the cache (per row)
  int capacity = 0;  // T_max
  std::vector<Tensor> k, v;  // per layer [B, T_max, Hkv, Dh]

  KVCache(int n_layer, int batch, int capacity, int n_head_kv, int head_dim) : capacity(capacity) {
    for (int l = 0; l < n_layer; ++l) {
      k.emplace_back(Shape{batch, capacity, n_head_kv, head_dim});
      v.emplace_back(Shape{batch, capacity, n_head_kv, head_dim});
    }
  }
};

}  // namespace attnscope::detail
