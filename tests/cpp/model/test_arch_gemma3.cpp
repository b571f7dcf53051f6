// The gemma3 fixture (../shared/models/arch/gemma3): both files reproduce the HF-semantics
// reference (q/k norms, local:global pattern with two RoPE bases); the GGUF's
// sliding_window_pattern is obeyed, and without it the released models' period 6 is assumed.
#include <filesystem>

#include "arch_reference.h"
#include "attnscope/model_config.h"

using namespace attnscope;

TEST(Arch_gemma3, BothFilesMatchTheReference) { test::expect_family_matches_reference("gemma3"); }

TEST(Arch_gemma3, InfoNamesTheFeaturesAndTheAssumptions) {
  const std::string gguf = test::arch_fixture("gemma3") + "/model.gguf";
  for (const std::string& file : {gguf, test::arch_fixture("gemma3")}) {
    const Model m = Model::load(file);
    const ModelConfig& c = m.config();
    EXPECT_TRUE(test::has_feature(c, "sliding window 6 on layers 0, 1")) << file;
    EXPECT_TRUE(test::has_feature(c, "rope base 10000 on sliding-window layers, 1e+06 on global ones")) << file;
    EXPECT_TRUE(test::has_feature(c, "q/k RMSNorm per head")) << file;
    EXPECT_FALSE(test::has_feature(c, "soft-cap")) << file;
    EXPECT_FALSE(test::has_feature(c, "assumed")) << file;
    const auto names = m.hook_names();
    EXPECT_NE(std::find(names.begin(), names.end(), "blocks.2.attn.q_norm.hook_normalized"), names.end());
  }
  // The converter's own output has no pattern: llama.cpp (and attnscope) assume period 6, so all
  // three layers slide; attnscope says so.
  const std::string bare = test::gguf_without(gguf, {"gemma3.attention.sliding_window_pattern"}, "gemma3_nopattern");
  const ModelConfig c = Model::load(bare).config();
  EXPECT_EQ(c.layer_sliding, std::vector<bool>({true, true, true}));
  EXPECT_TRUE(test::has_feature(c, "assumed: gemma3.attention.sliding_window_pattern = 6"));
  std::filesystem::remove(bare);
}
