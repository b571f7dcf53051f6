// Row-blocked attention and chunked prefill against the materialised path. Capturing the pattern
// makes the forward build the whole [B, H, T, Tk] buffer (the path every reference test checks
// against float64 and llama.cpp outputs); without a hook on it, attention runs in row blocks. The
// blocks an observer sees, put together, must be that captured pattern, and the logits and every
// other activation must equal the materialised run's, on every family fixture (GQA, windows,
// soft-caps, q/k norms, parallel residual), ragged batches and a KV cache. A chunked prefill must
// equal one pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "common/tensor_compare.h"
#include "model/arch_reference.h"
#include "model/attention.h"

using namespace attnscope;

namespace {
using test::max_abs_diff;

const std::string kModels = ATTNSCOPE_MODELS_DIR;

// Puts the observed blocks back together into [B, H, T, Tk] patterns per layer.
class Assembler : public PatternObserver {
 public:
  std::map<int, Tensor> patterns;
  void begin_layer(int layer, int64_t batch, int64_t heads, int64_t queries, int64_t n_past) override {
    patterns[layer] = Tensor({batch, heads, queries, n_past + queries});
    n_past_ = n_past;
  }
  void block(const PatternBlock& b) override {
    Tensor& p = patterns[b.layer];
    const int64_t H = p.dim(1), T = p.dim(2), Tk = p.dim(3);
    for (int64_t r = 0; r < b.rows; ++r)
      for (int64_t j = 0; j < b.keys; ++j)
        p.data()[((b.batch * H + b.head) * T + b.row0 - n_past_ + r) * Tk + j] = b.data[r * b.ld + j];
  }

 private:
  int64_t n_past_ = 0;
};

std::vector<int32_t> random_ids(const Model& m, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> pick(3, static_cast<int32_t>(m.config().n_vocab) - 1);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = pick(rng);
  return ids;
}

const std::vector<std::string> kEveryHookButAttention = {"blocks.*.hook_resid_post", "blocks.*.attn.hook_z",
                                                         "blocks.*.hook_attn_out"};

// The largest |logit|, for a tolerance relative to the logits' size.
double logit_scale(const Tensor& logits) {
  double m = 1;
  for (int64_t i = 0; i < logits.numel(); ++i) m = std::max(m, std::fabs(static_cast<double>(logits.data()[i])));
  return m;
}

// Blocked (observer only) vs materialised (pattern captured) on one batch. The two paths run
// different oneDNN products (a block's rows vs the whole layer), whose float32 sums round in a
// different order: the scores differ by float rounding (patterns by ~1e-6) and that propagates
// through the layers, so the bound is 1e-5 on patterns and on logits relative to their size.
void expect_blocked_equals_full(const Model& m, const std::vector<std::vector<int32_t>>& ids) {
  RunOptions full;
  full.capture = kEveryHookButAttention;
  full.capture.push_back("blocks.*.attn.hook_pattern");
  const Trace want = m.run_batch(ids, full);

  Assembler seen;
  RunOptions blocked;
  blocked.capture = kEveryHookButAttention;
  blocked.pattern_observer = &seen;
  const Trace got = m.run_batch(ids, blocked);

  EXPECT_LE(max_abs_diff(got.logits, want.logits), 1e-5 * logit_scale(want.logits));
  for (const auto& name : {std::string("blocks.0.hook_resid_post"), std::string("blocks.0.attn.hook_z")})
    EXPECT_LE(max_abs_diff(got.at(name), want.at(name)), 1e-5) << name;
  ASSERT_EQ(seen.patterns.size(), static_cast<size_t>(m.config().n_layer));
  for (const auto& [layer, pattern] : want.attention_patterns())
    EXPECT_LE(max_abs_diff(seen.patterns.at(layer), pattern), 1e-5) << "layer " << layer;
}

class BlockedAttention : public ::testing::Test {
 protected:
  void SetUp() override { detail::set_attention_block_rows(5); }  // many blocks, a partial last one
  void TearDown() override { detail::set_attention_block_rows(0); }
};

TEST_F(BlockedAttention, EqualsMaterialisedOnEveryFamily) {
  for (const char* family : {"gemma", "gemma2", "gemma3", "gptneox", "mistral", "olmo2", "phi3", "qwen3"}) {
    SCOPED_TRACE(family);
    const Model m = Model::load(test::arch_fixture(family));
    expect_blocked_equals_full(m, {random_ids(m, 37, 1), random_ids(m, 37, 2)});
  }
}

// The blocked path against the fixtures' independent float64 references, with the tolerances of
// the reference tests (arch_reference.h): patterns within 1e-5, last logits within 1e-4 of range.
TEST_F(BlockedAttention, MatchesFloat64ReferencesOfEveryFamily) {
  for (const char* family : {"gemma", "gemma2", "gemma3", "gptneox", "mistral", "olmo2", "phi3", "qwen3"}) {
    SCOPED_TRACE(family);
    const Model m = Model::load(test::arch_fixture(family));
    std::ifstream in(test::arch_fixture(family) + "/reference.json");
    const nlohmann::json ref = nlohmann::json::parse(in);
    for (const auto& kase : ref.at("cases")) {
      const std::vector<int32_t> ids = kase.at("ids").get<std::vector<int32_t>>();
      const int64_t T = static_cast<int64_t>(ids.size());
      Assembler seen;
      RunOptions o;
      o.pattern_observer = &seen;
      const Trace t = m.run(ids, o);
      const auto& att = kase.at("attention");
      double worst = 0;
      for (size_t l = 0; l < att.size(); ++l)
        for (size_t h = 0; h < att[l].size(); ++h)
          for (int64_t q = 0; q < T; ++q)
            for (int64_t k = 0; k < T; ++k)
              worst = std::max(
                  worst,
                  std::fabs(att[l][h][q][k].get<double>() -
                            seen.patterns.at(static_cast<int>(l)).data()[(static_cast<int64_t>(h) * T + q) * T + k]));
      EXPECT_LE(worst, 1e-5);
      const std::vector<double> want = kase.at("logits_last").get<std::vector<double>>();
      const auto [lo, hi] = std::minmax_element(want.begin(), want.end());
      const float* last = t.logits.data() + (T - 1) * t.logits.dim(2);
      for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(last[i], want[i], 1e-4 * (*hi - *lo));
    }
  }
}

TEST_F(BlockedAttention, EqualsMaterialisedOnStoriesAndToy) {
  const Model stories = Model::load(kModels + "/stories260K.gguf");
  // 100 tokens: the first blocks compute 64 keys of 100 (the causal trim).
  expect_blocked_equals_full(stories, {random_ids(stories, 100, 3)});
  LoadOptions bf16_path;
  bf16_path.dtype = "bfloat16";
  const Model bf16 = Model::load(kModels + "/stories260K.gguf", bf16_path);
  expect_blocked_equals_full(bf16, {random_ids(bf16, 100, 3)});
  const Model toy = Model::load("attnscope:toy");
  expect_blocked_equals_full(toy, {random_ids(toy, 30, 4)});
}

TEST_F(BlockedAttention, RaggedBatchAndKvCacheMatch) {
  const Model m = Model::load(kModels + "/stories260K.gguf");
  // A ragged batch: pads are masked in the blocks as in the materialised buffer.
  expect_blocked_equals_full(m, {random_ids(m, 23, 5), random_ids(m, 9, 6)});
  // Generation runs one query row against a growing cache; its logits must not depend on the path.
  GenerateOptions g;
  g.max_tokens = 6;
  const Generation blocked = m.generate(random_ids(m, 12, 7), g);
  g.capture = {"blocks.*.attn.hook_pattern"};
  const Generation full = m.generate(random_ids(m, 12, 7), g);
  EXPECT_EQ(blocked.new_tokens, full.new_tokens);
}

TEST(ChunkedPrefill, EqualsOnePass) {
  const Model m = Model::load(kModels + "/stories260K.gguf");
  const std::vector<std::vector<int32_t>> ids{random_ids(m, 50, 8), random_ids(m, 50, 9)};
  RunOptions one;
  one.capture = {"blocks.*.attn.hook_pattern", "blocks.*.hook_resid_post", "blocks.*.attn.hook_rot_k"};
  const Trace want = m.run_batch(ids, one);
  for (int chunk : {1, 7, 16, 49}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    RunOptions chunked = one;
    chunked.prefill_chunk = chunk;
    const Trace got = m.run_batch(ids, chunked);
    EXPECT_LE(max_abs_diff(got.logits, want.logits), 1e-5 * logit_scale(want.logits));
    for (const auto& [name, value] : want.captured()) EXPECT_LE(max_abs_diff(got.at(name), value), 1e-5) << name;
  }
  RunOptions last = one;
  last.capture.clear();
  last.last_logits_only = true;
  last.prefill_chunk = 16;
  const Trace tail = m.run_batch(ids, last);
  ASSERT_EQ(tail.logits.shape(), Shape({2, 1, m.config().n_vocab}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t v = 0; v < m.config().n_vocab; ++v)
      EXPECT_NEAR(tail.logits.data()[b * m.config().n_vocab + v],
                  want.logits.data()[(b * 50 + 49) * m.config().n_vocab + v], 1e-5 * logit_scale(want.logits));
}

TEST(ChunkedPrefill, RefusesWhatWouldSeeChunks) {
  const Model m = Model::load("attnscope:toy");
  RunOptions o;
  o.prefill_chunk = 4;
  o.interventions.push_back({"blocks.0.attn.hook_z", [](Tensor&, const HookContext&) {}, "nothing"});
  EXPECT_THROW(m.run(random_ids(m, 10, 1), o), Error);
  o.interventions.clear();
  o.prefill_chunk = -1;
  EXPECT_THROW(m.run(random_ids(m, 10, 1), o), Error);
}

}  // namespace
