// Stored-precision weights: every decoder against the scalar attnscope::dequantize (bit for
// bit), every product path against the f32 product on the decoded weights, and the same again
// with the CPU features lowered (ctest runs this binary again with ATTNSCOPE_TEST_FORCE_ISA=AVX2
// and ONEDNN_MAX_CPU_ISA=AVX2, and with SSE4 / SSE41: the AVX2 kernels' portable fallbacks).
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "formats/mlx.h"
#include "tensor/half.h"
#include "tensor/ops.h"
#include "tensor/softmax_kernels.h"
#include "tensor/stored_kernels.h"
#include "tensor/stored_weight.h"

using namespace attnscope;

namespace {

// "AVX2", "SSE4" or "" (not lowered).
std::string forced_isa() {
  const char* v = std::getenv("ATTNSCOPE_TEST_FORCE_ISA");
  return v ? v : "";
}

// Runs before any test: lowers Highway's targets when asked (oneDNN reads its variable itself).
const bool g_lowered = [] {
  if (forced_isa() == "AVX2") hwy::SetSupportedTargetsForTest(HWY_AVX2);
  if (forced_isa() == "SSE4") hwy::SetSupportedTargetsForTest(HWY_SSE4);
  return true;
}();

std::vector<float> random_values(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Bytes of `type` for [rows, cols]: encoded from random values where the project can encode the
// type, otherwise random block bytes with sane fp16 scale fields (every code pattern is valid).
std::vector<uint8_t> make_codes(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  const std::vector<float> w = random_values(static_cast<size_t>(rows * cols), seed, 0.05f);
  try {
    return quantize(type, w.data(), rows * cols);
  } catch (const Error&) {
  }
  std::vector<uint8_t> bytes(ggml_row_bytes(type, cols) * static_cast<uint64_t>(rows));
  std::mt19937 rng(seed);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  const int64_t bb = ggml_block_bytes(type);
  auto set_half = [&](size_t off, float v) {
    const uint16_t h = detail::f32_to_fp16(v);
    std::memcpy(&bytes[off], &h, 2);
  };
  for (size_t b = 0; b < bytes.size(); b += static_cast<size_t>(bb)) {
    switch (type) {
      case GgmlType::Q2_K:
        set_half(b + 80, 0.01f);
        set_half(b + 82, 0.005f);
        break;
      case GgmlType::Q3_K:
        set_half(b + 108, 0.01f);
        break;
      case GgmlType::Q5_K:
        set_half(b, 0.01f);
        set_half(b + 2, 0.005f);
        break;
      case GgmlType::Q8_1:
        set_half(b, 0.01f);
        set_half(b + 2, 0.3f);
        break;
      default:
        ADD_FAILURE() << "no random codes for " << ggml_type_name(type);
    }
  }
  return bytes;
}

std::vector<float> decode_scalar(GgmlType type, const std::vector<uint8_t>& codes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize(type, codes.data(), out.data(), n);
  return out;
}

// Product in double from the decoded weights: the independent reference.
std::vector<double> reference_product(const std::vector<float>& x, int64_t M, const std::vector<float>& w, int64_t N,
                                      int64_t K) {
  std::vector<double> y(static_cast<size_t>(M * N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += static_cast<double>(x[m * K + k]) * w[n * K + k];
      y[m * N + n] = s;
    }
  return y;
}

// max |y - ref| / max |ref|
double rel_error(const std::vector<float>& y, const std::vector<double>& ref) {
  double err = 0, mag = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    err = std::max(err, std::fabs(y[i] - ref[i]));
    mag = std::max(mag, std::fabs(ref[i]));
  }
  return err / mag;
}

const GgmlType kAllTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q8_1,
                              GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K,
                              GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

class StoredTypes : public ::testing::TestWithParam<GgmlType> {};

TEST_P(StoredTypes, DecodesBitIdenticalToTheScalarDecoder) {
  const GgmlType type = GetParam();
  const int64_t rows = 7, cols = 512;
  const auto codes = make_codes(type, rows, cols, 11);
  const StoredWeight W = StoredWeight::owned(type, rows, cols, codes);
  const std::vector<float> want = decode_scalar(type, codes, rows * cols);
  const Tensor got = W.to_tensor();
  ASSERT_EQ(got.shape(), (Shape{rows, cols}));
  for (int64_t i = 0; i < rows * cols; ++i)
    ASSERT_EQ(got.data()[i], want[i]) << ggml_type_name(type) << " element " << i;
  std::vector<float> two(2 * cols);
  W.dequantize_rows(3, 2, two.data());
  for (int64_t i = 0; i < 2 * cols; ++i) ASSERT_EQ(two[i], want[3 * cols + i]);
}

// Every path (generation rows, prompt rows in f32 and bf16), with bias and accumulation.
TEST_P(StoredTypes, ProductsMatchTheF32ProductOfTheDecodedWeights) {
  const GgmlType type = GetParam();
  const int64_t N = 80, K = 512;  // N not a multiple of the panel: a partial last tile
  const auto codes = make_codes(type, N, K, 5);
  const StoredWeight W = StoredWeight::owned(type, N, K, codes);
  const std::vector<float> w = decode_scalar(type, codes, N * K);
  const std::vector<float> bias = random_values(static_cast<size_t>(N), 9);
  for (int64_t M : {int64_t{1}, int64_t{3}, kGemvMaxRows, kGemvMaxRows + 1, int64_t{37}}) {
    const std::vector<float> x = random_values(static_cast<size_t>(M * K), 7 + static_cast<uint32_t>(M));
    std::vector<double> ref = reference_product(x, M, w, N, K);
    for (ComputeDtype dt : {ComputeDtype::Float32, ComputeDtype::BFloat16}) {
      std::vector<float> y(static_cast<size_t>(M * N), 0.5f);
      linear(x.data(), M, W, bias.data(), y.data(), /*accumulate=*/true, dt);
      std::vector<double> want(ref);
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) want[m * N + n] += 0.5 + bias[n];
      // The bfloat16 paths round activations: to bf16 for prompts (8-bit mantissa), to int8 per
      // 32 values for integer generation products; errors ~ 2^-8 relative, far below 2e-2.
      const bool rounded = dt == ComputeDtype::BFloat16 && !W.is_f32() &&
                           (M > kGemvMaxRows ? ops::has_native_bf16() : kernels::has_int8_gemv(W));
      EXPECT_LT(rel_error(y, want), rounded ? 1e-2 : 2e-5)
          << ggml_type_name(type) << " M=" << M << " " << compute_dtype_name(dt);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllGgufTypes, StoredTypes, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return ggml_type_name(info.param); });

TEST(StoredWeight, MlxGroupsDecodeAndMultiplyLikeMlxDequantize) {
  const int64_t N = 24, K = 256;
  const std::vector<float> wv = random_values(static_cast<size_t>(N * K), 3, 0.1f);
  const Tensor w({N, K}, wv);
  for (int bits : {4, 8}) {
    for (int group : {32, 64, 128}) {
      MlxQuantized q = mlx_quantize(w, bits, group);
      SafetensorsTensorInfo info;
      info.shape = q.packed_shape;
      info.data = reinterpret_cast<const uint8_t*>(q.packed.data());
      info.end = q.packed.size() * 4;
      info.dtype = StDtype::U32;
      const Tensor want = mlx_dequantize(info, q.scales, q.biases, bits, group, "test");
      StoredWeight W;
      W.rows = N;
      W.cols = K;
      W.mlx_bits = bits;
      W.mlx_group = group;
      W.data = info.data;
      W.row_bytes = static_cast<uint64_t>(K * bits / 8);
      W.mlx_scales = q.scales.data();
      W.mlx_biases = q.biases.data();
      const Tensor got = W.to_tensor();
      for (int64_t i = 0; i < N * K; ++i) ASSERT_EQ(got.data()[i], want.data()[i]) << bits << "-bit g" << group;
      const std::vector<float> x = random_values(static_cast<size_t>(2 * K), 4);
      std::vector<float> y(static_cast<size_t>(2 * N));
      linear(x.data(), 2, W, nullptr, y.data(), false, ComputeDtype::Float32);
      EXPECT_LT(rel_error(y, reference_product(x, 2, std::vector<float>(want.data(), want.data() + N * K), N, K)),
                2e-5);
    }
  }
}

// gather_rows (the stored form of a row permutation) moves MLX codes, scales and biases together
// and 16-bit rows as bytes: row r decodes to the decoded row order[r].
TEST(StoredWeight, GatherRowsMovesWholeStoredRows) {
  const int64_t N = 12, K = 128;
  const Tensor w({N, K}, random_values(static_cast<size_t>(N * K), 5, 0.1f));
  const std::vector<int64_t> order = {3, 0, 11, 5, 5, 2, 7, 1, 10, 9, 8, 4};
  const MlxQuantized q = mlx_quantize(w, 4, 32);
  const StoredWeight mlx = StoredWeight::mlx(4, 32, N, K, q.packed.data(), nullptr,
                                             std::vector<float>(q.scales.data(), q.scales.data() + q.scales.numel()),
                                             std::vector<float>(q.biases.data(), q.biases.data() + q.biases.numel()));
  std::vector<uint8_t> bf16(static_cast<size_t>(N * K * 2));
  for (int64_t i = 0; i < N * K; ++i) {
    const uint16_t h = detail::f32_to_bf16(w.data()[i]);
    std::memcpy(bf16.data() + 2 * i, &h, 2);
  }
  for (const StoredWeight& W : {mlx, StoredWeight::owned(GgmlType::BF16, N, K, bf16)}) {
    const Tensor all = W.to_tensor(), got = W.gather_rows(order).to_tensor();
    ASSERT_EQ(got.shape(), (Shape{N, K}));
    for (int64_t r = 0; r < N; ++r)
      for (int64_t c = 0; c < K; ++c)
        ASSERT_EQ(got.data()[r * K + c], all.data()[order[static_cast<size_t>(r)] * K + c])
            << W.type_name() << " " << r;
  }
  EXPECT_THROW(mlx.gather_rows({N}), Error);
  EXPECT_FALSE(StoredWeight::mlx_supported(2, 32, K));  // the kernels decode 4 and 8 bits
  EXPECT_FALSE(StoredWeight::mlx_supported(4, 24, 96));
  EXPECT_THROW(StoredWeight::mlx(4, 32, N, K, q.packed.data(), nullptr, {}, {}), Error);
}

TEST(StoredWeight, F32WeightsTakeTheExactOneDnnPath) {
  // Bit-identical to ops::linear at every row count: the float32 reference path is unchanged.
  const int64_t N = 40, K = 64;
  const std::vector<float> wv = random_values(static_cast<size_t>(N * K), 1);
  const StoredWeight W = StoredWeight::from_tensor(Tensor({N, K}, wv));
  for (int64_t M : {int64_t{1}, int64_t{20}}) {
    const std::vector<float> x = random_values(static_cast<size_t>(M * K), 2);
    std::vector<float> a(static_cast<size_t>(M * N)), b(a.size());
    linear(x.data(), M, W, nullptr, a.data(), false, ComputeDtype::BFloat16);
    ops::linear(x.data(), M, K, wv.data(), N, nullptr, b.data());
    EXPECT_EQ(a, b);
  }
}

TEST(FastSoftmax, MatchesTheScalarSoftmaxAndItsSpecialRows) {
  const int64_t rows = 6, n = 77;  // not a multiple of any vector width
  std::vector<float> x = random_values(static_cast<size_t>(rows * n), 12, 4.0f);
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t j = 10 * r + 3; j < n; ++j) x[r * n + j] = ninf;  // causal-style masks
  for (int64_t j = 0; j < n; ++j) x[4 * n + j] = ninf;             // fully masked
  x[5 * n + 40] = std::numeric_limits<float>::quiet_NaN();         // a NaN
  x[5 * n + 41] = ninf;
  std::vector<float> want = x, got = x;
  ops::softmax_rows(want.data(), rows, n);
  kernels::softmax_rows_fast(got.data(), rows, n);
  for (int64_t i = 0; i < 4 * n; ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-6f * std::max(1.0f, want[i])) << i;
    if (want[i] == 0.0f) {
      EXPECT_EQ(got[i], 0.0f) << i;  // masked entries are exactly 0
    }
  }
  for (int64_t j = 0; j < n; ++j) EXPECT_EQ(got[4 * n + j], 0.0f);
  for (int64_t j = 0; j < n; ++j) EXPECT_TRUE(std::isnan(got[5 * n + j])) << j;
}

TEST(StoredWeight, ComputeDtypeNames) {
  EXPECT_EQ(parse_compute_dtype("bf16"), ComputeDtype::BFloat16);
  EXPECT_EQ(compute_dtype_name(parse_compute_dtype("float32")), "float32");
  EXPECT_THROW(parse_compute_dtype("float8"), Error);
}

TEST(StoredWeight, RunsOnTheTargetsItWasAskedFor) {
  // In a lowered run both libraries must really be on that ISA, or the run above proved nothing.
  if (!forced_isa().empty()) {
    EXPECT_EQ(kernels::target_name(), forced_isa());
    EXPECT_EQ(ops::cpu_isa_name(), forced_isa() == "AVX2" ? "avx2" : "sse41");
    EXPECT_FALSE(ops::has_native_bf16());
  } else {
    EXPECT_NE(std::string(kernels::target_name()), "");
  }
}

}  // namespace
