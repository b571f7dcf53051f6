// scale_cap_mask, the one mask of every family: scale, soft-cap, causal mask at absolute
// positions (a KV cache shifts them by n_past) and a sliding window, against closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/attention.h"

namespace attnscope::detail {
namespace {

bool is_neg_inf(float v) { return std::isinf(v) && v < 0; }

TEST(AttentionMask, CausalMaskFollowsAbsolutePositions) {
  // Two queries at positions 2 and 3 (two tokens already cached) over four keys.
  std::vector<float> s(8, 2.0f);
  AttentionDesc a;
  a.scale = 0.5f;
  scale_cap_mask(s.data(), 1, 1, 2, 4, /*n_past=*/2, a);
  for (int j = 0; j < 3; ++j) EXPECT_EQ(s[j], 1.0f) << j;  // position 2 sees keys 0..2
  EXPECT_TRUE(is_neg_inf(s[3]));
  for (int j = 4; j < 8; ++j) EXPECT_EQ(s[j], 1.0f) << j;  // position 3 sees all four
}

TEST(AttentionMask, WindowHidesKeysOlderThanItsWidth) {
  // Five queries over five keys, window 2: query p sees keys p-1 and p only.
  std::vector<float> s(25, 1.0f);
  AttentionDesc a;
  a.window = 2;
  scale_cap_mask(s.data(), 1, 1, 5, 5, 0, a);
  for (int p = 0; p < 5; ++p)
    for (int j = 0; j < 5; ++j) {
      const bool visible = j <= p && j > p - 2;
      EXPECT_EQ(is_neg_inf(s[p * 5 + j]), !visible) << "query " << p << " key " << j;
    }
}

TEST(AttentionMask, SoftCapIsCapTimesTanhOfTheScaledScore) {
  // Gemma 2: s -> cap * tanh(s * scale / cap), applied after scaling.
  std::vector<float> s = {100.0f, -7.0f, 3.0f, 0.0f};
  AttentionDesc a;
  a.scale = 0.25f;
  a.softcap = 50.0f;
  scale_cap_mask(s.data(), 1, 1, 1, 4, /*n_past=*/3, a);  // one query at position 3 sees all 4 keys
  const float want[] = {100.0f, -7.0f, 3.0f, 0.0f};
  for (int j = 0; j < 4; ++j) EXPECT_FLOAT_EQ(s[j], 50.0f * std::tanh(want[j] * 0.25f / 50.0f)) << j;
}

}  // namespace
}  // namespace attnscope::detail
