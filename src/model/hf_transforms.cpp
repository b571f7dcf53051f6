#include "model/hf_transforms.h"

#include <algorithm>
#include <cstring>

#include "attnscope/error.h"

namespace attnscope {

namespace detail {
namespace {

// Per head: interleaved row 2i+j holds rotate-half row j*hd/2 + i. to_interleaved: the order that
// makes interleaved rows from rotate-half ones; otherwise its inverse.
std::vector<int64_t> rope_row_order(int64_t rows, int n_heads, bool to_interleaved) {
  if (n_heads <= 0 || rows % n_heads != 0 || (rows / n_heads) % 2 != 0)
    fail(ErrorKind::Format, "cannot permute a q/k projection of " + std::to_string(rows) + " rows into " +
                                std::to_string(n_heads) + " heads of even size");
  const int64_t hd = rows / n_heads, half = hd / 2;
  std::vector<int64_t> order(static_cast<size_t>(rows));
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t inter = h * hd + 2 * i + j, rot = h * hd + j * half + i;
        order[static_cast<size_t>(to_interleaved ? inter : rot)] = to_interleaved ? rot : inter;
      }
  return order;
}

// GPT-NeoX's fused rows are per head [q_h; k_h; v_h] (each head_dim); canonical is [q; k; v].
std::vector<int64_t> neox_qkv_order(int64_t rows, const ModelConfig& c, const std::string& where) {
  const int64_t H = c.n_head, Dh = c.head_dim;
  if (rows != 3 * H * Dh || c.n_head_kv != c.n_head)
    fail(ErrorKind::Format, where + ": a GPT-NeoX query_key_value of " + std::to_string(rows) +
                                " rows does not have 3 * " + std::to_string(H * Dh) + " rows");
  std::vector<int64_t> order(static_cast<size_t>(rows));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t part = 0; part < 3; ++part)
      for (int64_t d = 0; d < Dh; ++d) order[static_cast<size_t>(part * H * Dh + h * Dh + d)] = (h * 3 + part) * Dh + d;
  return order;
}

// out[r] = w[order[r]] for the rows of a float32 tensor of any rank >= 1.
Tensor gather_rows(const Tensor& w, const std::vector<int64_t>& order) {
  const int64_t rows = w.ndim() >= 1 ? w.dim(0) : 0;
  const int64_t cols = rows ? w.numel() / rows : 0;
  Tensor out(w.shape());
  for (size_t r = 0; r < order.size(); ++r)
    std::copy_n(w.data() + order[r] * cols, cols, out.data() + static_cast<int64_t>(r) * cols);
  return out;
}

Tensor transpose2d(const Tensor& w, const std::string& where) {
  if (w.ndim() != 2) fail(ErrorKind::Format, where + ": expected a 2-d weight, got " + w.shape_str());
  const int64_t r = w.dim(0), c = w.dim(1);
  Tensor out(Shape{c, r});
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) out.data()[j * r + i] = w.data()[i * c + j];
  return out;
}

// [r, c] 16-bit floats -> [c, r], still 16-bit (GPT-2 Conv1D checkpoints saved as F16/BF16).
StoredWeight transpose_half(const StoredWeight& w) {
  const int64_t r = w.rows, c = w.cols;
  std::vector<uint8_t> out(static_cast<size_t>(r * c * 2));
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j)
      std::memcpy(out.data() + (j * r + i) * 2, w.data + static_cast<uint64_t>(i) * w.row_bytes + j * 2, 2);
  return StoredWeight::owned(w.type, c, r, std::move(out));
}

}  // namespace

std::vector<int64_t> hf_row_order(HfTransform tr, int64_t rows, const ModelConfig& c, const std::string& where) {
  switch (tr) {
    case HfTransform::PermuteQ:
      return rope_row_order(rows, c.n_head, true);
    case HfTransform::PermuteK:
      return rope_row_order(rows, c.n_head_kv, true);
    case HfTransform::NeoxQkv:
      return neox_qkv_order(rows, c, where);
    default:
      return {};
  }
}

Tensor hf_transform(const Tensor& t, HfTransform tr, const ModelConfig& c, const std::string& where) {
  switch (tr) {
    case HfTransform::None:
      return t;
    case HfTransform::PermuteQ:
    case HfTransform::PermuteK:
    case HfTransform::NeoxQkv: {
      if (t.ndim() < 1) fail(ErrorKind::Format, where + ": expected rows to permute, got a scalar");
      return gather_rows(t, hf_row_order(tr, t.dim(0), c, where));
    }
    case HfTransform::Transpose:
      return transpose2d(t, where);
    case HfTransform::PlusOne: {
      Tensor out(t.shape());
      for (int64_t i = 0; i < t.numel(); ++i) out.data()[i] = t.data()[i] + 1.0f;
      return out;
    }
  }
  return t;
}

std::optional<StoredWeight> hf_transform_stored(const StoredWeight& w, HfTransform tr, const ModelConfig& c,
                                                const std::string& where) {
  switch (tr) {
    case HfTransform::None:
      return w;
    case HfTransform::PermuteQ:
    case HfTransform::PermuteK:
    case HfTransform::NeoxQkv:
      return w.gather_rows(hf_row_order(tr, w.rows, c, where));
    case HfTransform::Transpose:
      if (w.mlx_bits == 0 && (w.type == GgmlType::F16 || w.type == GgmlType::BF16)) return transpose_half(w);
      return std::nullopt;
    case HfTransform::PlusOne:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace detail

Tensor permute_rope_rows(const Tensor& w, int n_heads) {
  return detail::gather_rows(w, detail::rope_row_order(w.ndim() >= 1 ? w.dim(0) : 0, n_heads, true));
}
Tensor unpermute_rope_rows(const Tensor& w, int n_heads) {
  return detail::gather_rows(w, detail::rope_row_order(w.ndim() >= 1 ? w.dim(0) : 0, n_heads, false));
}

}  // namespace attnscope
