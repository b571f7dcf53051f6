// The gemma2 fixture (../shared/models/arch/gemma2): both files reproduce the HF-semantics
// reference (soft-caps, query_pre_attn_scalar, alternating windows, four norms); the GGUF's
// gemma2.attention.scale is obeyed, and without it the released models' scale is assumed and said.
#include <filesystem>

#include "arch_reference.h"

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
