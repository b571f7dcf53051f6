// MLX affine quantisation: hand-packed words, error bounds of the quantiser, hostile shapes,
// and MLX checkpoints of stories260K read back to within the quantisation step.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "attnscope/error.h"
#include "formats/mlx.h"
#include "formats/safetensors.h"
#include "model/hf_checkpoint.h"

using namespace attnscope;
namespace fs = std::filesystem;

namespace {
const std::string kModels = ATTNSCOPE_MODELS_DIR;

SafetensorsTensorInfo packed_info(const MlxQuantized& q) {
  SafetensorsTensorInfo i;
  i.dtype = StDtype::U32;
  i.shape = q.packed_shape;
  i.end = q.packed.size() * 4;
  i.data = reinterpret_cast<const uint8_t*>(q.packed.data());
  return i;
}
}  // namespace

TEST(Mlx, FourBitPackingByHand) {
  // One group of 16 values -1 + 0.25 q, q = 0..15: scale 0.25, bias -1, nibbles low first.
  Tensor w(Shape{1, 16});
  for (int i = 0; i < 16; ++i) w.data()[i] = -1.0f + 0.25f * static_cast<float>(i);
  MlxQuantized q = mlx_quantize(w, 4, 16);
  EXPECT_EQ(q.packed_shape, Shape({1, 2}));
  EXPECT_EQ(q.packed[0], 0x76543210u);
  EXPECT_EQ(q.packed[1], 0xFEDCBA98u);
  EXPECT_EQ(q.scales.data()[0], 0.25f);
  EXPECT_EQ(q.biases.data()[0], -1.0f);
  const Tensor back = mlx_dequantize(packed_info(q), q.scales, q.biases, 4, 16, "w");
  for (int i = 0; i < 16; ++i) EXPECT_EQ(back.data()[i], w.data()[i]);
}

TEST(Mlx, EightBitPackingByHand) {
  // Words built by hand: bytes low first; scale 2, bias 3 -> w = 2 q + 3.
  std::vector<uint32_t> words = {0x0201FF00u, 0x807F1005u};
  SafetensorsTensorInfo i;
  i.dtype = StDtype::U32;
  i.shape = {1, 2};
  i.end = 8;
  i.data = reinterpret_cast<const uint8_t*>(words.data());
  const Tensor s(Shape{1, 2}, {2.0f, 1.0f}), b(Shape{1, 2}, {3.0f, -128.0f});
  const Tensor w = mlx_dequantize(i, s, b, 8, 4, "w");
  const float want[8] = {3, 2 * 255 + 3, 2 + 3, 4 + 3, 5 - 128, 16 - 128, 127 - 128, 128 - 128};
  for (int k = 0; k < 8; ++k) EXPECT_EQ(w.data()[k], want[k]) << k;
}

TEST(Mlx, QuantiserErrorWithinHalfAStep) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 0.1f);
  Tensor w(Shape{8, 128});
  for (int i = 0; i < w.numel(); ++i) w.data()[i] = nd(rng);
  for (int bits : {2, 4, 8})
    for (int gs : {32, 64, 128}) {
      MlxQuantized q = mlx_quantize(w, bits, gs);
      const Tensor back = mlx_dequantize(packed_info(q), q.scales, q.biases, bits, gs, "w");
      for (int r = 0; r < 8; ++r)
        for (int c = 0; c < 128; ++c) {
          const float step = q.scales.data()[r * (128 / gs) + c / gs];
          ASSERT_LE(std::fabs(back.data()[r * 128 + c] - w.data()[r * 128 + c]), step * 0.5f + 1e-6f)
              << bits << " bits, group " << gs;
        }
    }
}

TEST(Mlx, MismatchedShapesAreClearErrors) {
  Tensor w(Shape{4, 64});
  MlxQuantized q = mlx_quantize(w, 4, 32);
  EXPECT_THROW(mlx_dequantize(packed_info(q), q.scales, q.biases, 4, 64, "w"), Error);  // wrong group size
  EXPECT_THROW(mlx_dequantize(packed_info(q), q.scales, q.biases, 8, 32, "w"), Error);  // wrong bits
  try {
    mlx_dequantize(packed_info(q), Tensor(Shape{4, 3}), q.biases, 4, 32, "blk.0.w");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Format);
    EXPECT_NE(std::string(e.what()).find("blk.0.w: scales [4, 3]"), std::string::npos) << e.what();
  }
  SafetensorsTensorInfo f32 = packed_info(q);
  f32.dtype = StDtype::F32;
  EXPECT_THROW(mlx_dequantize(f32, q.scales, q.biases, 4, 32, "w"), Error);
}

// Checkpoints made like mlx_lm.convert: projections and embeddings quantised, norms and the
// 172-wide down_proj (not a multiple of the group) kept as floats.
TEST(Mlx, Stories260KCheckpointsReadBackWithinTheQuantisationStep) {
  const std::string src = kModels + "/safetensors/stories260K-hf";
  const HfCheckpoint fp32 = read_hf_checkpoint(src);
  struct Case {
    int bits, gs;
    StDtype dtype;
  };
  for (Case k : {Case{4, 64, StDtype::BF16}, Case{8, 32, StDtype::F16}}) {
    fs::path dir =
        fs::temp_directory_path() / ("attnscope_mlx_" + std::to_string(k.bits) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    mlx_quantize_checkpoint(src, dir.string(), k.bits, k.gs, k.dtype);
    auto st = SafetensorsFile::open((dir / "model.safetensors").string());
    EXPECT_EQ(st.at("model.embed_tokens.weight").dtype, StDtype::U32);
    EXPECT_EQ(st.at("model.embed_tokens.weight").shape, Shape({512, 64 * k.bits / 32}));
    EXPECT_EQ(st.at("model.layers.0.mlp.down_proj.weight").dtype, k.dtype);  // 172 columns: unquantised
    EXPECT_EQ(st.at("model.layers.0.self_attn.q_proj.scales").shape, Shape({64, 64 / k.gs}));

    const HfCheckpoint q = read_hf_checkpoint(dir.string());
    EXPECT_EQ(q.hf.quant.bits, k.bits);
    ASSERT_EQ(q.weights.size(), fp32.weights.size());
    for (const auto& [name, w] : fp32.weights) {
      const Tensor& v = q.weights.at(name);
      ASSERT_EQ(v.shape(), w.shape()) << name;
      // Bound per tensor: half a step of the widest group, plus the float dtype's rounding of
      // scale and bias (relative 2^-8 for bf16, 2^-11 for f16) over the value range.
      float lo = 1e30f, hi = -1e30f, maxabs = 0;
      for (int64_t i = 0; i < w.numel(); ++i) {
        lo = std::min(lo, w.data()[i]);
        hi = std::max(hi, w.data()[i]);
        maxabs = std::max(maxabs, std::fabs(w.data()[i]));
      }
      const float rel = k.dtype == StDtype::BF16 ? 1.0f / 256 : 1.0f / 2048;
      const float bound = (hi - lo) / static_cast<float>((1 << k.bits) - 1) * 0.5f + 2.5f * rel * maxabs + 1e-6f;
      float worst = 0;
      for (int64_t i = 0; i < w.numel(); ++i) worst = std::max(worst, std::fabs(v.data()[i] - w.data()[i]));
      EXPECT_LE(worst, bound) << name << " " << k.bits << "-bit";
      EXPECT_GT(worst, 0.0f) << name;  // really went through quantisation or a narrower float
    }
    fs::remove_all(dir);
  }
}

TEST(Mlx, QuantisedWeightWithoutQuantizationConfigIsAnError) {
  fs::path dir = fs::temp_directory_path() / ("attnscope_mlx_bad_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  mlx_quantize_checkpoint(kModels + "/safetensors/stories260K-hf", dir.string(), 4, 64, StDtype::F32);
  fs::copy_file(kModels + "/safetensors/stories260K-hf/config.json", dir / "config.json",
                fs::copy_options::overwrite_existing);
  try {
    read_hf_checkpoint(dir.string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has MLX scales but config.json has no 'quantization'"), std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}
