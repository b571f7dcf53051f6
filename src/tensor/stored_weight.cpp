// StoredWeight: construction, decoding, and the matrix product that picks a path per call.
#include "tensor/stored_weight.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "attnscope/error.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"
#include "tensor/stored_kernels.h"

namespace attnscope {

std::string compute_dtype_name(ComputeDtype d) { return d == ComputeDtype::Float32 ? "float32" : "bfloat16"; }

ComputeDtype parse_compute_dtype(const std::string& s) {
  if (s == "float32" || s == "f32") return ComputeDtype::Float32;
  if (s == "bfloat16" || s == "bf16") return ComputeDtype::BFloat16;
  fail(ErrorKind::InvalidArgument, "unknown compute dtype '" + s + "' (choose float32 or bfloat16)");
}

StoredWeight StoredWeight::gguf(GgmlType type, int64_t rows, int64_t cols, const void* data,
                                std::shared_ptr<const void> keepalive) {
  StoredWeight w;
  w.type = type;
  w.rows = rows;
  w.cols = cols;
  w.row_bytes = ggml_row_bytes(type, cols);  // checks the block multiple
  w.data = static_cast<const uint8_t*>(data);
  w.keepalive = std::move(keepalive);
  return w;
}

StoredWeight StoredWeight::from_tensor(const Tensor& t) {
  if (t.ndim() != 2) fail(ErrorKind::InvalidArgument, "a weight matrix must be 2-d, not " + t.shape_str());
  auto keep = std::make_shared<Tensor>(t);
  return gguf(GgmlType::F32, t.dim(0), t.dim(1), t.data(), std::shared_ptr<const void>(keep, keep.get()));
}

StoredWeight StoredWeight::owned(GgmlType type, int64_t rows, int64_t cols, std::vector<uint8_t> bytes) {
  if (bytes.size() != ggml_row_bytes(type, cols) * static_cast<uint64_t>(rows))
    fail(ErrorKind::InvalidArgument, "StoredWeight::owned: byte count does not match the shape");
  auto keep = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  return gguf(type, rows, cols, keep->data(), std::shared_ptr<const void>(keep, keep.get()));
}

bool StoredWeight::mlx_supported(int bits, int group, int64_t cols) {
  return (bits == 4 || bits == 8) && group > 0 && group % 16 == 0 && cols > 0 && cols % group == 0;
}

StoredWeight StoredWeight::mlx(int bits, int group, int64_t rows, int64_t cols, const void* codes,
                               std::shared_ptr<const void> keepalive, std::vector<float> scales,
                               std::vector<float> biases) {
  const uint64_t groups = mlx_supported(bits, group, cols) ? static_cast<uint64_t>(cols / group) : 0;
  if (groups == 0 || rows < 0 || scales.size() != groups * static_cast<uint64_t>(rows) ||
      biases.size() != scales.size())
    fail(ErrorKind::InvalidArgument, "StoredWeight::mlx: unsupported bits/group or sizes that do not match the shape");
  // One owner for the codes' keepalive and the scales/biases.
  struct Owner {
    std::shared_ptr<const void> codes;
    std::vector<float> scales, biases;
  };
  auto own = std::make_shared<Owner>(Owner{std::move(keepalive), std::move(scales), std::move(biases)});
  StoredWeight w;
  w.rows = rows;
  w.cols = cols;
  w.data = static_cast<const uint8_t*>(codes);
  w.row_bytes = static_cast<uint64_t>(cols) * static_cast<uint64_t>(bits) / 8;
  w.mlx_bits = bits;
  w.mlx_group = group;
  w.mlx_scales = own->scales.data();
  w.mlx_biases = own->biases.data();
  w.keepalive = std::shared_ptr<const void>(own, own.get());
  return w;
}

StoredWeight StoredWeight::gather_rows(const std::vector<int64_t>& src_rows) const {
  const int64_t n = static_cast<int64_t>(src_rows.size());
  std::vector<uint8_t> codes(static_cast<size_t>(row_bytes * static_cast<uint64_t>(n)));
  const int64_t groups = mlx_bits > 0 ? cols / mlx_group : 0;
  std::vector<float> scales(static_cast<size_t>(n * groups)), biases(scales.size());
  for (int64_t r = 0; r < n; ++r) {
    const int64_t s = src_rows[static_cast<size_t>(r)];
    if (s < 0 || s >= rows) fail(ErrorKind::InvalidArgument, "StoredWeight: gathered row out of bounds");
    std::memcpy(codes.data() + static_cast<uint64_t>(r) * row_bytes, data + static_cast<uint64_t>(s) * row_bytes,
                row_bytes);
    if (groups > 0) {
      std::copy_n(mlx_scales + s * groups, groups, scales.begin() + r * groups);
      std::copy_n(mlx_biases + s * groups, groups, biases.begin() + r * groups);
    }
  }
  StoredWeight w;
  if (mlx_bits > 0) {
    auto keep = std::make_shared<std::vector<uint8_t>>(std::move(codes));
    w = mlx(mlx_bits, mlx_group, n, cols, keep->data(), std::shared_ptr<const void>(keep, keep.get()),
            std::move(scales), std::move(biases));
  } else {
    w = owned(type, n, cols, std::move(codes));
  }
  w.compute = compute;
  return w;
}

StoredWeight StoredWeight::row_slice(int64_t r0, int64_t n) const {
  if (r0 < 0 || n < 0 || r0 + n > rows) fail(ErrorKind::InvalidArgument, "StoredWeight: row slice out of bounds");
  StoredWeight w = *this;
  w.rows = n;
  w.data = data + static_cast<uint64_t>(r0) * row_bytes;
  if (mlx_bits > 0) {
    const int64_t groups = cols / mlx_group;
    w.mlx_scales = mlx_scales + r0 * groups;
    w.mlx_biases = mlx_biases + r0 * groups;
  }
  return w;
}

std::string StoredWeight::type_name() const {
  if (mlx_bits > 0) return "MLX" + std::to_string(mlx_bits) + "g" + std::to_string(mlx_group);
  return ggml_type_name(type);
}

uint64_t StoredWeight::nbytes() const {
  uint64_t n = row_bytes * static_cast<uint64_t>(rows);
  if (mlx_bits > 0) n += 2 * sizeof(float) * static_cast<uint64_t>(rows * (cols / mlx_group));
  return n;
}

void StoredWeight::dequantize_rows(int64_t r0, int64_t n, float* dst) const {
  if (r0 < 0 || n < 0 || r0 + n > rows) fail(ErrorKind::InvalidArgument, "StoredWeight: row range out of bounds");
  kernels::dequant_rows_f32(*this, r0, r0 + n, dst);
}

Tensor StoredWeight::to_tensor() const {
  if (is_f32()) {
    return Tensor::view({rows, cols}, reinterpret_cast<const float*>(data), keepalive);
  }
  Tensor t({rows, cols});
  ops::parallel_for(rows, 16,
                    [&](int64_t r0, int64_t r1) { kernels::dequant_rows_f32(*this, r0, r1, t.data() + r0 * cols); });
  return t;
}

namespace {

// Rows per tile of the prompt path: about 256 K weights (512 KB as bf16: fits in L2 with x).
int64_t panel_rows(int64_t K) {
  return std::clamp<int64_t>((int64_t{1} << 18) / std::max<int64_t>(K, 1) / 16 * 16, 16, 256);
}

}  // namespace

void linear(const float* x, int64_t M, const StoredWeight& W, const float* bias, float* y, bool accumulate,
            ComputeDtype dtype) {
  const int64_t N = W.rows, K = W.cols;
  if (M <= 0 || N <= 0) return;
  if (W.is_f32()) {  // the float32 reference path, unchanged
    ops::linear(x, M, K, reinterpret_cast<const float*>(W.data), N, bias, y, accumulate);
    return;
  }
  if (M <= kGemvMaxRows && dtype == ComputeDtype::BFloat16 && kernels::has_int8_gemv(W)) {
    // Generation, fast path: x quantised to int8 per 32-element block, integer dot products.
    auto xq = std::make_unique_for_overwrite<int8_t[]>(static_cast<size_t>(M * K));
    const int64_t block = kernels::int8_gemv_block(W);
    auto xd = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(M * K / block));
    auto xs = std::make_unique_for_overwrite<int32_t[]>(static_cast<size_t>(M * K / 32));
    kernels::quantize_rows_q8(x, M, K, block, xq.get(), xd.get(), xs.get());
    ops::parallel_for(
        N, 64,
        [&](int64_t r0, int64_t r1) {
          kernels::gemv_rows_int8(W, r0, r1, xq.get(), xd.get(), xs.get(), M, bias, y, N, accumulate);
        },
        ops::kFloatsPerLine);
    return;
  }
  if (M <= kGemvMaxRows) {
    // Generation: memory bound, so every weight byte is read once, in its stored size.
    ops::parallel_for(
        N, 64,
        [&](int64_t r0, int64_t r1) {
          auto scratch = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(K));
          kernels::gemv_rows(W, r0, r1, x, M, bias, y, N, accumulate, scratch.get());
        },
        ops::kFloatsPerLine);
    return;
  }
  // Prompts: decode a panel of rows into a tile, multiply it with oneDNN on this thread.
  // (Buffers are not zero-filled: every element is written before it is read.)
  const bool bf16 = dtype == ComputeDtype::BFloat16 && ops::has_native_bf16();
  std::unique_ptr<uint16_t[]> xb;
  if (bf16) {
    xb = std::make_unique_for_overwrite<uint16_t[]>(static_cast<size_t>(M * K));
    ops::parallel_for(
        M, 1, [&](int64_t m0, int64_t m1) { kernels::f32_to_bf16(x + m0 * K, xb.get() + m0 * K, (m1 - m0) * K); });
  }
  const int64_t P = panel_rows(K);
  const int64_t panels = (N + P - 1) / P;
  ops::parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
    std::unique_ptr<float[]> tile_f;
    std::unique_ptr<uint16_t[]> tile_b;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t r0 = p * P, r1 = std::min(N, r0 + P);
      if (bf16) {
        const void* wt;
        if (W.mlx_bits == 0 && W.type == GgmlType::BF16) {
          wt = W.data + static_cast<uint64_t>(r0) * W.row_bytes;  // already the tile
        } else {
          if (!tile_b) tile_b = std::make_unique_for_overwrite<uint16_t[]>(static_cast<size_t>(P * K));
          kernels::dequant_rows_bf16(W, r0, r1, tile_b.get());
          wt = tile_b.get();
        }
        ops::linear_typed(ops::MatDtype::BF16, xb.get(), M, K, wt, r1 - r0, y + r0, N, accumulate, 1);
      } else {
        if (!tile_f) tile_f = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(P * K));
        kernels::dequant_rows_f32(W, r0, r1, tile_f.get());
        ops::linear_typed(ops::MatDtype::F32, x, M, K, tile_f.get(), r1 - r0, y + r0, N, accumulate, 1);
      }
    }
  });
  if (bias) ops::add_bias(y, bias, M, N);
}

}  // namespace attnscope
