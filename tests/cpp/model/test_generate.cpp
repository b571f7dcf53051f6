// Greedy generation with the KV cache: the published stories260K story, and cache results equal
// to re-running the whole sequence.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"

using namespace attnscope;

namespace {
const std::string kStories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";
const std::string kTinyRandom = std::string(ATTNSCOPE_MODELS_DIR) + "/llama-2-tiny-random.gguf";

GenerateOptions gen_options(int max_tokens, std::vector<std::string> capture = {}) {
  GenerateOptions o;
  o.max_tokens = max_tokens;
  o.capture = std::move(capture);
  return o;
}
}  // namespace

TEST(Generate, Stories260KGreedyFromBosReproducesThePublishedStory) {
  Model model = Model::load(kStories);
  Generation g = model.generate(std::vector<int32_t>{model.tokenizer().bos_id()}, gen_options(200));
  const std::string published =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she "
      "saw a big, red ball. She wanted to play with it, but it was too high.";
  std::string text = g.text;
  while (!text.empty() && text[0] == ' ') text.erase(0, 1);  // SentencePiece's leading space
  EXPECT_EQ(text.substr(0, published.size()), published) << "generated: " << g.text;
  // The string overload starts from BOS too when given nothing.
  Generation g2 = model.generate(std::string_view(""), gen_options(10));
  EXPECT_EQ(g2.prompt_tokens, std::vector<int32_t>{1});
  EXPECT_EQ(std::vector<int32_t>(g.new_tokens.begin(), g.new_tokens.begin() + 10), g2.new_tokens);
}

TEST(Generate, KvCacheGivesTheSameLogitsAndPatternsAsAFullRun) {
  Model model = Model::load(kStories);
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
  Generation g = model.generate(prompt, gen_options(12, {"logits", "blocks.*.attn.hook_pattern"}));
  ASSERT_EQ(g.new_tokens.size(), 12u);
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), g.new_tokens.begin(), g.new_tokens.end());
  ASSERT_EQ(g.trace.tokens.at(0), all);
  RunOptions ro;
  ro.capture = {"blocks.*.attn.hook_pattern"};
  Trace full = model.run(all, ro);
  const int64_t T = static_cast<int64_t>(all.size());
  ASSERT_EQ(g.trace.logits.shape(), Shape({1, T, 512}));
  for (int64_t i = 0; i < g.trace.logits.numel(); ++i)
    ASSERT_NEAR(g.trace.logits.data()[i], full.logits.data()[i], 1e-4) << "flat index " << i;
  for (int l = 0; l < model.config().n_layer; ++l) {
    const std::string name = "blocks." + std::to_string(l) + ".attn.hook_pattern";
    const Tensor& a = g.trace.at(name);
    const Tensor& b = full.at(name);
    ASSERT_EQ(a.shape(), Shape({1, 8, T, T}));
    for (int64_t i = 0; i < a.numel(); ++i) ASSERT_NEAR(a.data()[i], b.data()[i], 1e-5) << name << " " << i;
  }
  // Greedy: each generated token is the argmax of the full run's logits one position earlier.
  for (size_t k = 0; k < g.new_tokens.size(); ++k) {
    const float* row = full.logits.data() + (prompt.size() - 1 + k) * 512;
    EXPECT_EQ(std::max_element(row, row + 512) - row, g.new_tokens[k]);
  }
}

TEST(Generate, RandomLlama2F16LoadsAndRuns) {
  Model model = Model::load(kTinyRandom);
  const ModelConfig& c = model.config();
  EXPECT_EQ(c.n_vocab, 32000);
  EXPECT_EQ(c.n_layer, 1);
  EXPECT_EQ(c.n_embd, 8);
  EXPECT_EQ(c.n_head, 2);
  EXPECT_EQ(c.rope_dim, 4);
  EXPECT_FALSE(c.tied_embeddings);
  ASSERT_TRUE(model.has_tokenizer());
  RunOptions ro;
  ro.capture = {"blocks.0.attn.hook_pattern"};
  Trace t = model.run("Hello world, this is a test", ro);
  const int64_t T = static_cast<int64_t>(t.tokens[0].size());
  EXPECT_EQ(t.tokens[0][0], 1);  // BOS
  EXPECT_EQ(t.str_tokens[0].size(), t.tokens[0].size());
  EXPECT_EQ(t.logits.shape(), Shape({1, T, 32000}));
  const Tensor& p = t.at("blocks.0.attn.hook_pattern");
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < T; ++i) {
      double s = 0;
      for (int64_t j = 0; j < T; ++j) s += p.at({0, h, i, j});
      EXPECT_NEAR(s, 1.0, 1e-5);
    }
  for (int64_t i = 0; i < t.logits.numel(); ++i) ASSERT_TRUE(std::isfinite(t.logits.data()[i]));
  Generation g = model.generate(std::string_view("Hello"), gen_options(5));
  EXPECT_LE(g.new_tokens.size(), 5u);
}

TEST(Generate, BadOptionsAreErrors) {
  Model model = Model::load(kStories);
  EXPECT_THROW(model.generate(std::vector<int32_t>{}, gen_options(3)), Error);
  EXPECT_THROW(model.generate(std::vector<int32_t>{1}, gen_options(-1)), Error);
  EXPECT_THROW(model.generate(std::vector<int32_t>{1, 9999}, gen_options(3)), Error);
  EXPECT_THROW(model.generate(std::vector<int32_t>{1}, gen_options(3, {"blocks.7.attn.hook_pattern"})), Error);
}
