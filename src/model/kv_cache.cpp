#include "model/kv_cache.h"

#include <cstring>
#include <utility>

#include "tensor/stored_kernels.h"

namespace attnscope::detail {

KVCache::KVCache(int n_layer, int batch, int capacity, int n_head_kv, int head_dim, ComputeDtype dtype)
    : capacity(capacity), dtype_(dtype), batch_(batch), row_(int64_t{n_head_kv} * head_dim) {
  const size_t n = static_cast<size_t>(batch_ * capacity * row_);
  for (int l = 0; l < n_layer; ++l) {
    if (dtype_ == ComputeDtype::BFloat16) {
      k16_.emplace_back(n);
      v16_.emplace_back(n);
    } else {
      k_.emplace_back(Shape{batch, capacity, n_head_kv, head_dim});
      v_.emplace_back(Shape{batch, capacity, n_head_kv, head_dim});
    }
  }
}

void KVCache::store(int layer, const Tensor& k, const Tensor& v, int64_t n_past) {
  const int64_t T = k.dim(1), n = T * row_;
  const auto l = static_cast<size_t>(layer);
  for (int64_t b = 0; b < batch_; ++b) {
    const int64_t at = (b * capacity + n_past) * row_;
    if (dtype_ == ComputeDtype::BFloat16) {
      kernels::f32_to_bf16(k.data() + b * n, k16_[l].data() + at, n);
      kernels::f32_to_bf16(v.data() + b * n, v16_[l].data() + at, n);
    } else {
      std::memcpy(k_[l].data() + at, k.data() + b * n, sizeof(float) * static_cast<size_t>(n));
      std::memcpy(v_[l].data() + at, v.data() + b * n, sizeof(float) * static_cast<size_t>(n));
    }
  }
}

KVCache::Rows KVCache::read(const std::vector<Tensor>& f32, const std::vector<std::vector<uint16_t>>& bf16, int layer,
                            int64_t Tk) const {
  const auto l = static_cast<size_t>(layer);
  Rows r;
  if (dtype_ != ComputeDtype::BFloat16) {
    r.data = std::as_const(f32[l]).data();
    r.batch_stride = capacity * row_;
    return r;
  }
  r.decoded = Tensor::uninitialized({batch_, Tk, row_});  // written in full below
  for (int64_t b = 0; b < batch_; ++b)
    kernels::bf16_to_f32(bf16[l].data() + b * capacity * row_, r.decoded.data() + b * Tk * row_, Tk * row_);
  r.data = std::as_const(r.decoded).data();
  r.batch_stride = Tk * row_;
  return r;
}

KVCache::Rows KVCache::keys(int layer, int64_t Tk) const { return read(k_, k16_, layer, Tk); }
KVCache::Rows KVCache::values(int layer, int64_t Tk) const { return read(v_, v16_, layer, Tk); }

size_t KVCache::nbytes() const {
  const size_t layers = dtype_ == ComputeDtype::BFloat16 ? k16_.size() : k_.size();
  return 2 * layers * static_cast<size_t>(batch_ * capacity * row_) * bytes_per_element();
}

}  // namespace attnscope::detail
