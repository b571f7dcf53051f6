// MLX affine (de)quantisation.
#include "formats/mlx.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "attnscope/error.h"
#include "formats/safetensors.h"

namespace attnscope {

Shape mlx_weight_shape(const SafetensorsTensorInfo& packed, const Shape& scales, const Shape& biases, int bits,
                       int group_size, const std::string& where) {
  if (bits != 2 && bits != 4 && bits != 8)
    fail(ErrorKind::Unsupported, where + ": " + std::to_string(bits) + "-bit MLX quantization is not supported");
  if (packed.dtype != StDtype::U32 || packed.shape.size() != 2)
    fail(ErrorKind::Format, where + ": a quantised weight must be a 2-d U32 tensor, not " +
                                st_dtype_name(packed.dtype) + " of " + std::to_string(packed.shape.size()) + " dims");
  const int64_t rows = packed.shape[0], words = packed.shape[1];
  const int64_t cols = words * (32 / bits);
  if (group_size <= 0 || cols % group_size != 0)
    fail(ErrorKind::Format,
         where + ": " + std::to_string(cols) + " columns do not split into groups of " + std::to_string(group_size));
  const int64_t groups = cols / group_size;
  const Shape sshape{rows, groups};
  auto str = [](const Shape& s) { return Tensor::view(s, nullptr, nullptr).shape_str(); };
  if (scales != sshape || biases != sshape)
    fail(ErrorKind::Format, where + ": scales " + str(scales) + " / biases " + str(biases) + " do not match " +
                                std::to_string(bits) + "-bit weight of [" + std::to_string(rows) + ", " +
                                std::to_string(cols) + "] in groups of " + std::to_string(group_size) + " (expected [" +
                                std::to_string(rows) + ", " + std::to_string(groups) + "])");
  return {rows, cols};
}

Tensor mlx_dequantize(const SafetensorsTensorInfo& packed, const Tensor& scales, const Tensor& biases, int bits,
                      int group_size, const std::string& where) {
  const Shape shape = mlx_weight_shape(packed, scales.shape(), biases.shape(), bits, group_size, where);
  const int64_t rows = shape[0], cols = shape[1], words = packed.shape[1];
  const int per_word = 32 / bits;
  const int64_t groups = cols / group_size;
  Tensor out(Shape{rows, cols});
  float* dst = out.data();
  const uint32_t mask = bits == 32 ? 0xffffffffu : ((1u << bits) - 1u);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = packed.data + static_cast<size_t>(r * words) * 4;
    const float* sc = scales.data() + r * groups;
    const float* bi = biases.data() + r * groups;
    for (int64_t w = 0; w < words; ++w) {
      uint32_t word;
      std::memcpy(&word, row + 4 * w, 4);
      for (int k = 0; k < per_word; ++k) {
        int64_t c = w * per_word + k;
        int64_t g = c / group_size;
        dst[r * cols + c] = sc[g] * static_cast<float>((word >> (k * bits)) & mask) + bi[g];
      }
    }
  }
  return out;
}

MlxQuantized mlx_quantize(const Tensor& w, int bits, int group_size) {
  if (w.ndim() != 2) fail(ErrorKind::InvalidArgument, "mlx_quantize: weight must be 2-d");
  if (bits != 2 && bits != 4 && bits != 8) fail(ErrorKind::InvalidArgument, "mlx_quantize: bits must be 2, 4 or 8");
  const int64_t rows = w.dim(0), cols = w.dim(1);
  const int per_word = 32 / bits;
  if (group_size <= 0 || cols % group_size != 0 || cols % per_word != 0)
    fail(ErrorKind::InvalidArgument, "mlx_quantize: columns not divisible by the group size");
  const int64_t groups = cols / group_size;
  const float levels = static_cast<float>((1u << bits) - 1u);
  MlxQuantized q;
  q.packed_shape = {rows, cols / per_word};
  q.packed.assign(static_cast<size_t>(rows * cols / per_word), 0u);
  q.scales = Tensor(Shape{rows, groups});
  q.biases = Tensor(Shape{rows, groups});
  const float* src = w.data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const float* x = src + r * cols + g * group_size;
      float lo = *std::min_element(x, x + group_size), hi = *std::max_element(x, x + group_size);
      float scale = hi > lo ? (hi - lo) / levels : 1.0f;  // a constant group is exactly its bias
      q.scales.data()[r * groups + g] = scale;
      q.biases.data()[r * groups + g] = lo;
      for (int64_t k = 0; k < group_size; ++k) {
        float v = std::nearbyint((x[k] - lo) / scale);
        uint32_t u = static_cast<uint32_t>(std::clamp(v, 0.0f, levels));
        int64_t c = g * group_size + k;
        q.packed[static_cast<size_t>(r * (cols / per_word) + c / per_word)] |= u << ((c % per_word) * bits);
      }
    }
  return q;
}

}  // namespace attnscope
