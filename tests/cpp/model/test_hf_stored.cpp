// Hugging Face checkpoints kept in their stored type (dtype bfloat16): every family fixture
// converted to BF16 and F16 safetensors, GPT-2's transposed Conv1D weights, and MLX 4/8-bit
// checkpoints (Llama q/k rows and GPT-NeoX's fused qkv permuted as codes + scales + biases)
// against the float32 load of the same files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch_reference.h"
#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "dtype_compare.h"
#include "formats/mlx.h"
#include "formats/safetensors.h"
#include "model/model_impl.h"
#include "weight_by_name.h"

using namespace attnscope;
namespace fs = std::filesystem;

namespace {

const std::string kModels = ATTNSCOPE_MODELS_DIR;

fs::path temp_dir(const std::string& tag) {
  fs::path p = fs::temp_directory_path() / ("attnscope_hfst_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// src_dir's checkpoint rewritten with every float tensor (or only the matrices) as `dtype`
// (config.json copied).
void convert_checkpoint(const std::string& src_dir, const fs::path& dst, StDtype dtype, bool matrices_only = false) {
  const SafetensorsFile st = SafetensorsFile::open(src_dir + "/model.safetensors");
  SafetensorsWriter w;
  for (const auto& t : st.tensors()) {
    const Tensor v = st.load_tensor(t.name);
    if (matrices_only && v.ndim() != 2)
      w.add_f32(t.name, v);
    else if (dtype == StDtype::BF16)
      w.add_bf16(t.name, v);
    else
      w.add_f16(t.name, v);
  }
  w.write((dst / "model.safetensors").string());
  fs::copy_file(src_dir + "/config.json", dst / "config.json");
}

Model load(const std::string& path, const std::string& dtype) { return test::load_with_dtype(path, dtype); }
using test::max_abs_diff;
using test::weight_f32;

double range(const Tensor& a) {
  double lo = 1e30, hi = -1e30;
  for (int64_t i = 0; i < a.numel(); ++i) {
    lo = std::min(lo, static_cast<double>(a.data()[i]));
    hi = std::max(hi, static_cast<double>(a.data()[i]));
  }
  return hi - lo;
}

// The stored model holds its matrices (after fused splits) in `type_name` and no 2-d float32
// weights; every one decodes (weight(), on demand) to exactly the float32 load's values, which
// checks the row permutations / transposes done on stored rows against the float32 ones.
void expect_stored_like_decoded(const Model& stored, const Model& exact, const std::string& type_name,
                                const std::string& what) {
  ASSERT_FALSE(stored.impl().matrices.empty()) << what;
  for (const auto& [name, t] : stored.impl().weights) EXPECT_NE(t.ndim(), 2) << what << ": " << name << " decoded";
  for (const auto& [name, m] : exact.impl().matrices) EXPECT_TRUE(m.is_f32()) << what << ": " << name;
  for (const auto& [name, m] : stored.impl().matrices) {
    EXPECT_EQ(m.type_name(), type_name) << what << ": " << name;
    EXPECT_EQ(max_abs_diff(weight_f32(stored, name), weight_f32(exact, name)), 0.0) << what << ": " << name;
  }
}

struct Closeness {
  double pattern = 0, logit = 0, logit_range = 0;
};

// Every layer's pattern and all logits of the two models on `ids`.
Closeness compare_runs(const Model& a, const Model& b, const std::vector<int32_t>& ids) {
  RunOptions ro;
  ro.capture = {"blocks.*.attn.hook_pattern"};
  const Trace ta = a.run(ids, ro), tb = b.run(ids, ro);
  Closeness c;
  for (const auto& [l, p] : ta.attention_patterns())
    c.pattern = std::max(c.pattern, max_abs_diff(p, tb.attention_patterns().at(l)));
  c.logit = max_abs_diff(ta.logits, tb.logits);
  c.logit_range = range(ta.logits);
  return c;
}

std::vector<std::vector<int32_t>> reference_ids(const std::string& family) {
  std::ifstream in(test::arch_fixture(family) + "/reference.json");
  const nlohmann::json ref = nlohmann::json::parse(in);
  std::vector<std::vector<int32_t>> out;
  for (const auto& kase : ref.at("cases")) out.push_back(kase.at("ids").get<std::vector<int32_t>>());
  return out;
}

// Bounds for bfloat16 compute against float32 on the same weights. Prompts of more than 8 tokens
// round activations to bf16 (8-bit mantissa: relative 2^-9 per value) where the CPU has native
// bf16 dot products, and the softmax uses a fast exp. These random-weight fixtures have attention
// scores of tens of units, so a 2^-9 relative error in q and k moves scores by ~0.05 and patterns
// by up to 0.08, logits by up to 1.8 % of their range (measured on the 13-token prompts; the
// 7-token prompts take the f32 generation kernels and stay within 4e-6). Bounds: 0.15 and 4 %.
// A wrong row order or type is caught exactly by expect_stored_like_decoded.
constexpr double kPatternTol = 0.15, kLogitRel = 4e-2;

}  // namespace

class HfStoredFamilies : public ::testing::TestWithParam<std::string> {};

TEST_P(HfStoredFamilies, HalfCheckpointsStayStoredAndMatchFloat32) {
  const std::string family = GetParam();
  if (!fs::exists(test::arch_fixture(family) + "/model.safetensors")) GTEST_SKIP() << "no fixture";
  for (StDtype dtype : {StDtype::BF16, StDtype::F16}) {
    const std::string tname = dtype == StDtype::BF16 ? "BF16" : "F16";
    const fs::path dir = temp_dir(family + tname);
    convert_checkpoint(test::arch_fixture(family), dir, dtype);
    const Model exact = load(dir.string(), "float32"), fast = load(dir.string(), "bfloat16");
    EXPECT_EQ(exact.dtype(), "float32");
    EXPECT_EQ(fast.dtype(), "bfloat16");
    expect_stored_like_decoded(fast, exact, tname, family + " " + tname);

    // float32 on the half file is the exact path: its matrices are the half values, decoded
    // (1-d Gemma norms are 1 + w, rounded differently).
    const Model original = load(test::arch_fixture(family), "float32");
    for (const auto& [name, m] : original.impl().matrices) {
      const Tensor t = m.to_tensor();
      const Tensor got = weight_f32(exact, name);
      ASSERT_EQ(got.shape(), t.shape()) << name;
      for (int64_t i = 0; i < t.numel(); ++i) {
        const float want = dtype == StDtype::BF16 ? st_bf16_to_f32(st_f32_to_bf16(t.data()[i]))
                                                  : st_f16_to_f32(st_f32_to_f16(t.data()[i]));
        ASSERT_EQ(got.data()[i], want) << family << " " << tname << " " << name << "[" << i << "]";
      }
    }

    for (const auto& ids : reference_ids(family)) {
      const Closeness c = compare_runs(exact, fast, ids);
      std::printf("[ %s %s ] %zu tokens: max |pattern diff| %.2e, max |logit diff| %.2e (range %.3g)\n", family.c_str(),
                  tname.c_str(), ids.size(), c.pattern, c.logit, c.logit_range);
      EXPECT_LE(c.pattern, kPatternTol) << family << " " << tname;
      EXPECT_LE(c.logit, kLogitRel * c.logit_range) << family << " " << tname;
    }
    fs::remove_all(dir);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfStoredFamilies,
                         ::testing::Values("gemma", "gemma2", "gemma3", "gptneox", "mistral", "olmo2", "phi3",
                                           "qwen3"));

// The HF and GGUF loaders keep the same model: the fixture's safetensors with its matrices as BF16
// and its GGUF (llama.cpp's layout) rewritten as BF16 hold the same rows in the same order (q/k
// permuted on stored rows for Mistral), so the two stored models compute the same results.
TEST(HfStored, Bf16CheckpointComputesWhatTheBf16GgufDoes) {
  for (const std::string family : {"mistral", "qwen3", "gptneox"}) {
    SCOPED_TRACE(family);
    if (!fs::exists(test::arch_fixture(family) + "/model.gguf")) continue;
    const fs::path dir = temp_dir("vsgguf" + family);
    convert_checkpoint(test::arch_fixture(family), dir, StDtype::BF16, true);
    quantize_gguf_file(test::arch_fixture(family) + "/model.gguf", (dir / "model-bf16.gguf").string(), "BF16");
    const Model hf = load(dir.string(), "bfloat16"), gguf = load((dir / "model-bf16.gguf").string(), "bfloat16");
    for (const auto& [name, m] : hf.impl().matrices) {
      const StoredWeight& g = gguf.impl().matrices.at(name);
      ASSERT_EQ(m.type_name(), "BF16") << name;
      ASSERT_EQ(g.type_name(), "BF16") << name;
      ASSERT_EQ(m.shape(), g.shape()) << name;
      for (int64_t r = 0; r < m.rows; ++r)
        ASSERT_EQ(std::memcmp(m.data + r * m.row_bytes, g.data + r * g.row_bytes, m.row_bytes), 0)
            << name << " row " << r;
    }
    for (const auto& ids : reference_ids(family)) {
      const Closeness c = compare_runs(hf, gguf, ids);
      EXPECT_LE(c.pattern, 1e-6);
      EXPECT_LE(c.logit, 1e-5 * c.logit_range);
    }
    fs::remove_all(dir);
  }
}

// GPT-2's Conv1D weights are stored [in, out]: a BF16 file's matrices are transposed as 16-bit
// values and stay BF16.
TEST(HfStored, Gpt2Bf16ConvWeightsAreTransposedInTheirType) {
  const std::string src = kModels + "/safetensors/lm-buddy-tiny_gpt2-random";
  const fs::path dir = temp_dir("gpt2");
  convert_checkpoint(src, dir, StDtype::BF16);
  const Model exact = load(dir.string(), "float32"), fast = load(dir.string(), "bfloat16");
  expect_stored_like_decoded(fast, exact, "BF16", "gpt2");
  EXPECT_TRUE(fast.impl().matrices.count("blk.0.attn_q.weight"));
  const Closeness c = compare_runs(exact, fast, {20, 16, 3, 15, 10, 14, 2, 7, 11, 19});
  EXPECT_LE(c.pattern, kPatternTol);
  EXPECT_LE(c.logit, kLogitRel * c.logit_range);
  fs::remove_all(dir);
}

// MLX checkpoints: matrices stay as MLX groups (codes are views when no rows move); dequantising
// is exact, so the stored model decodes to the float32 load's weights bit for bit.
TEST(HfStored, MlxCheckpointsStayQuantisedAndMatchFloat32) {
  struct Case {
    std::string src;
    int bits, gs;
    StDtype floats;
  };
  for (const Case& k : {Case{kModels + "/safetensors/stories260K-hf", 4, 32, StDtype::BF16},  // llama: PermuteQ/K
                        Case{test::arch_fixture("mistral"), 8, 64, StDtype::F16},             // llama: PermuteQ/K
                        Case{test::arch_fixture("gptneox"), 4, 64, StDtype::F32}}) {          // NeoxQkv
    if (!fs::exists(k.src + "/model.safetensors")) continue;
    SCOPED_TRACE(k.src);
    const fs::path dir = temp_dir("mlx" + std::to_string(k.bits));
    fs::remove_all(dir);
    mlx_quantize_checkpoint(k.src, dir.string(), k.bits, k.gs, k.floats);
    const Model exact = load(dir.string(), "float32"), fast = load(dir.string(), "bfloat16");
    const std::string mlx = "MLX" + std::to_string(k.bits) + "g" + std::to_string(k.gs);
    size_t quantised = 0;
    for (const auto& [name, m] : fast.impl().matrices) {
      // stories260K's 172-wide down_proj does not split into groups: stored as a float matrix.
      if (m.mlx_bits > 0) {
        ++quantised;
        EXPECT_EQ(m.type_name(), mlx) << name;
      } else if (k.floats != StDtype::F32) {
        EXPECT_EQ(m.type_name(), k.floats == StDtype::BF16 ? "BF16" : "F16") << name;
      }
      EXPECT_EQ(max_abs_diff(weight_f32(fast, name), weight_f32(exact, name)), 0.0) << name;
    }
    EXPECT_GT(quantised, 0u);
    EXPECT_EQ(fast.impl().matrices.at("blk.0.attn_q.weight").type_name(), mlx);
    EXPECT_EQ(fast.impl().matrices.at("token_embd.weight").type_name(), mlx);
    for (const auto& [name, m] : exact.impl().matrices) EXPECT_TRUE(m.is_f32()) << name;
    const std::vector<int32_t> ids = {1, 403, 407, 261, 378, 285, 261, 291, 380, 400, 266, 322, 295, 7};
    const Closeness c = compare_runs(exact, fast, ids);
    std::printf("[ MLX %d-bit g%d ] %s: max |pattern diff| %.2e, max |logit diff| %.2e (range %.3g)\n", k.bits, k.gs,
                k.src.c_str(), c.pattern, c.logit, c.logit_range);
    EXPECT_LE(c.pattern, kPatternTol);
    EXPECT_LE(c.logit, kLogitRel * c.logit_range);
    fs::remove_all(dir);
  }
}

// "auto" decides from the tensor table's sizes before decoding: these small files run float32,
// every weight decoded.
TEST(HfStored, AutoKeepsSmallCheckpointsOnTheExactPath) {
  const fs::path dir = temp_dir("auto");
  convert_checkpoint(test::arch_fixture("mistral"), dir, StDtype::BF16);
  const Model m = load(dir.string(), "auto");
  EXPECT_EQ(m.dtype(), "float32");
  for (const auto& [name, w] : m.impl().matrices) EXPECT_TRUE(w.is_f32()) << name;
  EXPECT_THROW(load(dir.string(), "float8"), Error);
  fs::remove_all(dir);
}
