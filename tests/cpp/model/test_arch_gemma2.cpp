// The gemma2 fixture (../shared/models/arch/gemma2): both files reproduce the HF-semantics
// reference (soft-caps, query_pre_attn_scalar, alternating windows, four norms); the GGUF's
// gemma2.attention.scale is obeyed, and without it the released models' scale is assumed and said.
#include <filesystem>

#include "arch_reference.h"
#include "attnscope/model_config.h"

using namespace attnscope;

TEST(Arch_gemma2, BothFilesMatchTheReference) { test::expect_family_matches_reference("gemma2"); }

TEST(Arch_gemma2, InfoNamesTheFeaturesAndTheAssumptions) {
  const std::string gguf = test::arch_fixture("gemma2") + "/model.gguf";
  for (const std::string& file : {gguf, test::arch_fixture("gemma2")}) {
    const ModelConfig c = Model::load(file).config();
    EXPECT_TRUE(test::has_feature(c, "attention logit soft-cap 5")) << file;
    EXPECT_TRUE(test::has_feature(c, "final logit soft-cap 3")) << file;
    EXPECT_TRUE(test::has_feature(c, "sliding window 6 on layers 0, 2")) << file;
    EXPECT_TRUE(test::has_feature(c, "attention scale 0.25")) << file;
    EXPECT_TRUE(test::has_feature(c, "post-attention and post-MLP norms")) << file;
    EXPECT_TRUE(test::has_feature(c, "embeddings scaled by 8")) << file;
    EXPECT_FALSE(test::has_feature(c, "assumed")) << file;
  }
  // What llama.cpp's converter writes (no scale): head_dim 32 assumed, as the 2B/9B.
  const std::string bare = test::gguf_without(gguf, {"gemma2.attention.scale"}, "gemma2_noscale");
  const ModelConfig c = Model::load(bare).config();
  EXPECT_FLOAT_EQ(c.attn_scale, 1.0f / std::sqrt(32.0f));
  EXPECT_TRUE(test::has_feature(c, "assumed: query_pre_attn_scalar = 32")) << c.assumed.size();
  std::filesystem::remove(bare);
}

// hook_attn_scores is the softmax input after the soft-cap and the window mask; the pattern is
// its softmax.
TEST(Arch_gemma2, AttnScoresAreTheSoftCappedMaskedSoftmaxInput) {
  const Model m = Model::load(test::arch_fixture("gemma2"));
  RunOptions o;
  o.capture = {"blocks.0.attn.hook_attn_scores", "blocks.0.attn.hook_pattern"};
  const std::vector<int32_t> ids{1, 50, 60, 70, 80, 90, 100, 110, 120};
  const Trace t = m.run(ids, o);
  const Tensor& s = t.at("blocks.0.attn.hook_attn_scores");
  const Tensor& p = t.at("blocks.0.attn.hook_pattern");
  const int64_t H = s.dim(1), T = s.dim(2);
  int capped = 0;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t q = 0; q < T; ++q) {
      const float* row = s.data() + (h * T + q) * T;
      const float* prow = p.data() + (h * T + q) * T;
      double mx = -INFINITY, sum = 0;
      for (int64_t k = 0; k < T; ++k) {
        const bool visible = k <= q && k > q - 6;  // window 6 on layer 0
        EXPECT_EQ(std::isinf(row[k]) && row[k] < 0, !visible) << h << " " << q << " " << k;
        if (visible) {
          EXPECT_LT(std::fabs(row[k]), 5.0f);  // |5 tanh(x / 5)| < 5
          capped += std::fabs(row[k]) > 2.5f;
          mx = std::max(mx, static_cast<double>(row[k]));
        }
      }
      for (int64_t k = 0; k < T; ++k) sum += std::isinf(row[k]) ? 0.0 : std::exp(row[k] - mx);
      for (int64_t k = 0; k < T; ++k) {
        const double want = std::isinf(row[k]) ? 0.0 : std::exp(row[k] - mx) / sum;
        EXPECT_NEAR(prow[k], want, 1e-6);
      }
    }
  EXPECT_GT(capped, 0);  // the cap is in the range where it bites
}
