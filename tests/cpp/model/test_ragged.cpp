// Ragged batches: prompts of different lengths in one forward pass, padded on the right or the
// left. Each prompt's patterns, scores, every other captured value and logits must equal those of
// running it alone (to 1e-5), and no real token may attend to a pad. On RoPE models (stories260K,
// the toy model) and a learned-position model (a tiny GPT-2), so per-row positions are checked.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "common/tensor_compare.h"

using namespace attnscope;

namespace {
using test::max_abs_diff;

const std::string kModels = ATTNSCOPE_MODELS_DIR;

void expect_ragged_equals_single(const Model& model, const std::vector<std::vector<int32_t>>& ids) {
  ASSERT_NE(ids.front().size(), ids.back().size());  // really ragged
  for (Padding padding : {Padding::Right, Padding::Left}) {
    RunOptions o;
    o.capture = {"blocks.*.attn.hook_pattern", "blocks.*.attn.hook_attn_scores", "blocks.*.hook_resid_post",
                 "blocks.*.attn.hook_z"};
    o.padding = padding;
    const Trace batch = model.run_batch(ids, o);
    ASSERT_TRUE(batch.padded());
    const auto mask = batch.attention_mask();
    for (size_t b = 0; b < ids.size(); ++b) {
      SCOPED_TRACE(std::string(padding == Padding::Left ? "left" : "right") + " padding, prompt " + std::to_string(b));
      const Trace alone = model.run(ids[b], o);
      const Trace row = batch.row(static_cast<int>(b));
      EXPECT_EQ(row.tokens[0], ids[b]);
      for (const auto& [name, value] : alone.captured()) {
        if (name.find("attn_scores") != std::string::npos) {
          // -inf where masked in both; finite entries equal to 1e-5 relative to their size (the
          // toy model's scores reach ~60, where one float ulp is 4e-6).
          const Tensor& r = row.at(name);
          ASSERT_EQ(r.shape(), value.shape());
          for (int64_t i = 0; i < r.numel(); ++i) {
            if (std::isinf(value.data()[i]))
              EXPECT_EQ(r.data()[i], value.data()[i]);
            else
              EXPECT_NEAR(r.data()[i], value.data()[i], 1e-5 * std::max(1.0f, std::fabs(value.data()[i])));
          }
        } else {
          EXPECT_LE(max_abs_diff(row.at(name), value), 1e-5f) << name;
        }
      }
      EXPECT_LE(max_abs_diff(row.logits, alone.logits), 1e-5f);
      // In the padded pattern, real queries put exactly 0 on pad keys.
      for (const auto& [layer, p] : batch.attention_patterns()) {
        const int64_t H = p.dim(1), T = p.dim(2);
        for (int64_t h = 0; h < H; ++h)
          for (int64_t i = 0; i < T; ++i)
            for (int64_t j = 0; j < T; ++j)
              if (mask[b][static_cast<size_t>(i)] && !mask[b][static_cast<size_t>(j)]) {
                ASSERT_EQ(p.at({static_cast<int64_t>(b), h, i, j}), 0.0f) << "layer " << layer;
              }
      }
    }
  }
}

void expect_ragged_equals_single(const Model& model, const std::vector<std::string>& texts) {
  std::vector<std::vector<int32_t>> ids;
  for (const auto& t : texts) ids.push_back(model.encode(t));
  expect_ragged_equals_single(model, ids);
}

}  // namespace

TEST(Ragged, Stories260KEqualsSingleRuns) {
  const Model m = Model::load(kModels + "/stories260K.gguf");
  expect_ragged_equals_single(
      m, {"Once upon a time there was a little girl named Lily.", "The cat", "She saw a big red ball"});
}

TEST(Ragged, ToyModelEqualsSingleRuns) {
  const Model m = Model::load("attnscope:toy");
  expect_ragged_equals_single(m, {"abcdefghij abcde", "xy", "The cat sat"});
}

TEST(Ragged, LearnedPositionsGpt2EqualsSingleRuns) {
  const Model m = Model::load(kModels + "/safetensors/lm-buddy-tiny_gpt2-random");
  expect_ragged_equals_single(m, {"Hello world, this is a longer prompt", "Hi", "A middle one"});
}

TEST(Ragged, SlidingWindowAndSoftCapGemma2EqualsSingleRuns) {
  // A window of 6 keys and attention soft-capping: the pad mask must compose with both.
  const Model m = Model::load(kModels + "/arch/gemma2/model.gguf");
  const int32_t V = m.config().n_vocab;
  std::vector<std::vector<int32_t>> ids;
  for (int len : {13, 4, 9}) {
    std::vector<int32_t> row;
    for (int i = 0; i < len; ++i) row.push_back((i * 37 + len * 11 + 5) % V);
    ids.push_back(row);
  }
  expect_ragged_equals_single(m, ids);
}

TEST(Ragged, EqualLengthBatchesAreNotPadded) {
  const Model m = Model::load(kModels + "/stories260K.gguf");
  const auto a = m.encode("The cat"), b = m.encode("The dog");
  ASSERT_EQ(a.size(), b.size());
  const Trace t = m.run_batch({a, b});
  EXPECT_FALSE(t.padded());
  RunOptions bad;
  EXPECT_THROW(m.run_batch({a, {}}, bad), Error);  // an empty prompt is still an error
}
