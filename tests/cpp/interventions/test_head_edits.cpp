// Head-level edits on hand-built tensors: which slices change, and to what.
#include <gtest/gtest.h>

#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "common/test_files.h"
#include "interventions/interventions_detail.h"

using namespace attnscope;

namespace {

using test::ramp;

void apply(const Intervention& iv, Tensor& v) { iv.fn(v, {iv.target, 0}); }

}  // namespace

TEST(HeadEdits, ZeroAblateTouchesOnlyTheChosenHeads) {
  const int64_t B = 2, T = 3, H = 4, Dh = 2;
  Tensor z = ramp({B, T, H, Dh});
  Tensor orig = z.clone();
  Intervention iv = iv::zero_ablate_heads(5, {1, 3});
  EXPECT_EQ(iv.target, "blocks.5.attn.hook_z");
  apply(iv, z);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < Dh; ++d)
          EXPECT_EQ(z.at({b, t, h, d}), (h == 1 || h == 3) ? 0.0f : orig.at({b, t, h, d}));
  Tensor small = ramp({1, 1, 2, 2});
  EXPECT_THROW(apply(iv::zero_ablate_heads(0, {2}), small), Error);  // head out of range at run time
  EXPECT_THROW(iv::zero_ablate_heads(0, {1, 1}), Error);
  EXPECT_THROW(iv::zero_ablate_heads(0, {}), Error);
  EXPECT_THROW(iv::zero_ablate_heads(-1, {0}), Error);
}

TEST(HeadEdits, MeanAblateUsesRunMeanOrGivenMeans) {
  const int64_t B = 2, T = 2, H = 3, Dh = 2;
  Tensor z = ramp({B, T, H, Dh});
  Tensor orig = z.clone();
  apply(iv::mean_ablate_heads(0, {2}), z);
  for (int64_t d = 0; d < Dh; ++d) {
    float mean = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) mean += orig.at({b, t, 2, d});
    mean /= B * T;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        EXPECT_FLOAT_EQ(z.at({b, t, 2, d}), mean);
        EXPECT_EQ(z.at({b, t, 0, d}), orig.at({b, t, 0, d}));
      }
  }
  Tensor means = ramp({H, Dh}, -5.0f);
  Tensor z2 = orig.clone();
  apply(iv::mean_ablate_heads(0, {0}, means), z2);
  EXPECT_EQ(z2.at({1, 1, 0, 1}), means.at({0, 1}));
  EXPECT_EQ(z2.at({1, 1, 1, 1}), orig.at({1, 1, 1, 1}));
  Tensor per_pos = ramp({T, H, Dh}, 100.0f);
  Tensor z3 = orig.clone();
  apply(iv::mean_ablate_heads(0, {1}, per_pos), z3);
  EXPECT_EQ(z3.at({1, 1, 1, 0}), per_pos.at({1, 1, 0}));
  EXPECT_EQ(z3.at({0, 0, 1, 1}), per_pos.at({0, 1, 1}));
  Tensor z4 = orig.clone();
  EXPECT_THROW(apply(iv::mean_ablate_heads(0, {1}, ramp({H + 1, Dh})), z4), Error);
}

TEST(HeadEdits, UniformPatternIsCausalUniform) {
  const int64_t B = 1, H = 2, T = 4;
  Tensor p = ramp({B, H, T, T});
  Tensor orig = p.clone();
  apply(iv::set_head_pattern_uniform(0, 1), p);
  for (int64_t q = 0; q < T; ++q)
    for (int64_t k = 0; k < T; ++k) {
      EXPECT_EQ(p.at({0, 1, q, k}), k <= q ? 1.0f / static_cast<float>(q + 1) : 0.0f);
      EXPECT_EQ(p.at({0, 0, q, k}), orig.at({0, 0, q, k}));
    }
  // With a cache (Tq < Tk), query q is at absolute position Tk - Tq + q.
  Tensor g = ramp({1, 1, 1, 3});
  apply(iv::set_head_pattern_uniform(0, 0), g);
  EXPECT_FLOAT_EQ(g.at({0, 0, 0, 2}), 1.0f / 3.0f);
}

TEST(HeadEdits, SetPatternCopiesIntoOneHead) {
  Tensor p = ramp({2, 3, 2, 2});
  Tensor orig = p.clone();
  Tensor mine({2, 2}, {1, 0, 0.25f, 0.75f});
  apply(iv::set_head_pattern(2, 2, mine), p);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t q = 0; q < 2; ++q)
      for (int64_t k = 0; k < 2; ++k) {
        EXPECT_EQ(p.at({b, 2, q, k}), mine.at({q, k}));
        EXPECT_EQ(p.at({b, 1, q, k}), orig.at({b, 1, q, k}));
      }
  Tensor q = ramp({2, 3, 3, 3});
  EXPECT_THROW(apply(iv::set_head_pattern(2, 0, mine), q), Error);  // different length
  EXPECT_THROW(iv::set_head_pattern(0, 0, Tensor({4})), Error);
}

TEST(HeadEdits, PatchHeadsCopiesSlicesFromSourceTrace) {
  Trace source;
  Tensor src = ramp({1, 2, 3, 2}, 1000.0f);
  source.set("blocks.1.attn.hook_z", src);
  Tensor z = ramp({1, 2, 3, 2});
  Tensor orig = z.clone();
  apply(iv::patch_heads(1, {0, 2}, source), z);
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t d = 0; d < 2; ++d)
        EXPECT_EQ(z.at({0, t, h, d}), h == 1 ? orig.at({0, t, h, d}) : src.at({0, t, h, d}));
  Tensor longer = ramp({1, 3, 3, 2});
  EXPECT_THROW(apply(iv::patch_heads(1, {0}, source), longer), Error);
  EXPECT_THROW(iv::patch_heads(0, {0}, source), Error);                 // not captured
  EXPECT_THROW(iv::patch_heads(1, {0}, source, "attn.hook_v"), Error);  // kv heads: not per query head
  // Whole-hook patching via an alias.
  source.set("blocks.1.hook_attn_out", ramp({1, 2, 4}, 7.0f));
  Intervention whole = iv::patch_hook("model.layers.1.self_attn", source);
  EXPECT_EQ(whole.target, "blocks.1.hook_attn_out");
  Tensor out({1, 2, 4});
  apply(whole, out);
  EXPECT_EQ(out.at({0, 1, 3}), 14.0f);
}

TEST(HeadEdits, HeadAxisAndPerRowAblation) {
  EXPECT_EQ(iv::head_axis("blocks.0.attn.hook_pattern"), 1);
  EXPECT_EQ(iv::head_axis("blocks.0.attn.hook_z"), 2);
  EXPECT_EQ(iv::head_axis("blocks.0.attn.hook_result"), 2);
  EXPECT_THROW(iv::head_axis("blocks.0.attn.hook_k"), Error);
  // Row b zeroes head b; row 2 (-1) is untouched.
  Tensor z = ramp({3, 2, 2, 1});
  Tensor orig = z.clone();
  Intervention iv = iv::detail::ablate_head_per_row(0, {0, 1, -1}, Tensor());
  apply(iv, z);
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t t = 0; t < 2; ++t)
      for (int64_t h = 0; h < 2; ++h) EXPECT_EQ(z.at({b, t, h, 0}), h == b ? 0.0f : orig.at({b, t, h, 0}));
}
