// The mistral fixture (../shared/models/arch/mistral): both files reproduce the HF-semantics
// reference.
#include "arch_reference.h"

using namespace attnscope;

TEST(Arch_mistral, BothFilesMatchTheReference) { test::expect_family_matches_reference("mistral"); }

// Generation appends keys to the cache; the window must hold across steps (n_past > 0): the
// patterns gathered while generating equal those of one pass over the whole sequence.
TEST(Arch_mistral, WindowHoldsDuringGeneration) {
  const Model m = Model::load(test::arch_fixture("mistral") + "/model.gguf");
  GenerateOptions g;
  g.max_tokens = 8;
  g.stop_at_eos = false;
  g.capture = {"blocks.*.attn.hook_pattern"};
  const Generation gen = m.generate(std::vector<int32_t>{1, 300, 301, 302, 303}, g);
  std::vector<int32_t> all = gen.prompt_tokens;
  all.insert(all.end(), gen.new_tokens.begin(), gen.new_tokens.end());
  RunOptions o;
  o.capture = {"blocks.*.attn.hook_pattern"};
  const Trace t = m.run(all, o);
  const auto generated = gen.trace.attention_patterns();
  for (const auto& [layer, p] : t.attention_patterns()) {
    const Tensor& q = generated.at(layer);
    ASSERT_EQ(q.shape(), p.shape());
    const int64_t T = p.dim(2);
    float worst = 0, outside = 0;
    for (int64_t i = 0; i < p.numel(); ++i) {
      worst = std::max(worst, std::fabs(p.data()[i] - q.data()[i]));
      const int64_t k = i % T, r = (i / T) % T;
      if (k <= r - 6) outside = std::max(outside, std::fabs(q.data()[i]));
    }
    EXPECT_LE(worst, 1e-5f) << layer;
    EXPECT_EQ(outside, 0.0f) << layer;
  }
}
