// Trace::row and the attention mask of a ragged batch, on a hand-made trace whose every element
// says where it came from (value = b * 1e6 + i * 1e3 + j), so a wrong cut shows.
#include <gtest/gtest.h>

#include "attnscope/error.h"
#include "attnscope/trace.h"

using namespace attnscope;

namespace {

Trace ragged(Padding padding) {
  Trace t;
  t.tokens = {{5, 6, 7, 8}, {9, 10}};
  t.str_tokens = {{"a", "b", "c", "d"}, {"e", "f"}};
  t.padding = padding;
  Tensor pattern({2, 1, 4, 4}), resid({2, 4, 3});
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 4; ++j) pattern.at({b, 0, i, j}) = static_cast<float>(b * 1e6 + i * 1e3 + j);
      for (int d = 0; d < 3; ++d) resid.at({b, i, d}) = static_cast<float>(b * 1e6 + i * 1e3 + d);
    }
  t.set("blocks.0.attn.hook_pattern", pattern);
  t.set("blocks.0.hook_resid_post", resid);
  t.logits = resid.clone();
  return t;
}

}  // namespace

TEST(TraceRows, MaskMarksRealTokensOnThePaddingSide) {
  EXPECT_EQ(ragged(Padding::Right).attention_mask(), (std::vector<std::vector<int32_t>>{{1, 1, 1, 1}, {1, 1, 0, 0}}));
  EXPECT_EQ(ragged(Padding::Left).attention_mask(), (std::vector<std::vector<int32_t>>{{1, 1, 1, 1}, {0, 0, 1, 1}}));
  EXPECT_TRUE(ragged(Padding::Left).padded());
  EXPECT_EQ(ragged(Padding::Left).padded_length(), 4);
}

TEST(TraceRows, RowCutsThePadsFromEveryAxisOfPositions) {
  for (Padding p : {Padding::Right, Padding::Left}) {
    const Trace t = ragged(p);
    const Trace r = t.row(1);
    const int off = p == Padding::Left ? 2 : 0;
    EXPECT_EQ(r.tokens, (std::vector<std::vector<int32_t>>{{9, 10}}));
    EXPECT_EQ(r.str_tokens[0], (std::vector<std::string>{"e", "f"}));
    const Tensor& a = r.at("blocks.0.attn.hook_pattern");
    ASSERT_EQ(a.shape(), (Shape{1, 1, 2, 2}));
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) EXPECT_EQ(a.at({0, 0, i, j}), static_cast<float>(1e6 + (i + off) * 1e3 + j + off));
    const Tensor& x = r.at("blocks.0.hook_resid_post");
    ASSERT_EQ(x.shape(), (Shape{1, 2, 3}));
    for (int i = 0; i < 2; ++i)
      for (int d = 0; d < 3; ++d) EXPECT_EQ(x.at({0, i, d}), static_cast<float>(1e6 + (i + off) * 1e3 + d));
    ASSERT_EQ(r.logits.shape(), (Shape{1, 2, 3}));
    EXPECT_EQ(r.logits.at({0, 1, 2}), static_cast<float>(1e6 + (1 + off) * 1e3 + 2));
    EXPECT_FALSE(r.padded());
    // The full row is returned unchanged.
    EXPECT_EQ(t.row(0).at("blocks.0.attn.hook_pattern").at({0, 0, 3, 1}), static_cast<float>(3e3 + 1));
  }
  EXPECT_THROW(ragged(Padding::Right).row(2), Error);
}
