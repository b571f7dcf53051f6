// Tensor edits checked element by element against values computed here.
#include <gtest/gtest.h>

#include <cmath>

#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "common/test_files.h"

using namespace attnscope;

namespace {

using test::ramp;

HookContext ctx(const std::string& name = "blocks.0.hook_attn_out") { return {name, 0}; }

}  // namespace

TEST(Edits, ZeroOutAndScale) {
  Tensor t = ramp({2, 3, 4});
  iv::zero_out().fn(t, ctx());
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.data()[i], 0.0f);
  Tensor u = ramp({2, 3});
  iv::scale(-0.5f).fn(u, ctx());
  for (int64_t i = 0; i < u.numel(); ++i) EXPECT_EQ(u.data()[i], -0.5f * (1.0f + i));
  EXPECT_EQ(iv::scale(0.5f).description, "scale(0.5)");
}

TEST(Edits, ReadOnlyViewIsClonedNotWritten) {
  auto keep = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3});
  Tensor v = Tensor::view({3}, keep->data(), keep);
  iv::scale(2.0f).fn(v, ctx());
  EXPECT_EQ((*keep)[0], 1.0f);
  EXPECT_EQ(v.at({2}), 6.0f);
}

TEST(Edits, AddVectorBroadcastsOverLeadingDims) {
  Tensor t = ramp({2, 3, 4});
  Tensor v({4}, {10, 20, 30, 40});
  iv::add_vector(v, 2.0f).fn(t, ctx());
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t s = 0; s < 3; ++s)
      for (int64_t d = 0; d < 4; ++d) EXPECT_EQ(t.at({b, s, d}), 1.0f + ((b * 3 + s) * 4 + d) + 2.0f * v.at({d}));
  // Per position: [T, D] repeats over the batch only.
  Tensor u = ramp({2, 3, 4});
  Tensor pv = ramp({3, 4}, 100.0f);
  iv::add_vector(pv).fn(u, ctx());
  EXPECT_EQ(u.at({1, 2, 3}), 1.0f + 23 + pv.at({2, 3}));
  EXPECT_EQ(u.at({0, 2, 3}), 1.0f + 11 + pv.at({2, 3}));
  // A vector that is not a suffix of the shape is refused with the hook named.
  Tensor w = ramp({2, 3, 4});
  try {
    iv::add_vector(Tensor({5})).fn(w, ctx("blocks.3.hook_resid_post"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blocks.3.hook_resid_post"), std::string::npos);
  }
  EXPECT_THROW(iv::add_vector(Tensor()), Error);
}

TEST(Edits, ClampBoundsEveryElement) {
  Tensor t({5}, {-3, -1, 0, 2, 9});
  iv::clamp(-1.5f, 1.0f).fn(t, ctx());
  EXPECT_EQ(t.at({0}), -1.5f);
  EXPECT_EQ(t.at({1}), -1.0f);
  EXPECT_EQ(t.at({2}), 0.0f);
  EXPECT_EQ(t.at({3}), 1.0f);
  EXPECT_EQ(t.at({4}), 1.0f);
  EXPECT_THROW(iv::clamp(1.0f, 0.0f), Error);
}

TEST(Edits, NoiseIsReproduciblePerHookAndHasTheAskedSpread) {
  const int64_t n = 200000;
  Tensor a({n}), b({n}), c({n});
  iv::noise(0.5f, 7).fn(a, ctx("blocks.1.hook_resid_post"));
  iv::noise(0.5f, 7).fn(b, ctx("blocks.1.hook_resid_post"));
  iv::noise(0.5f, 7).fn(c, ctx("blocks.2.hook_resid_post"));
  double sum = 0, sq = 0;
  int same_c = 0;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(a.data()[i], b.data()[i]);
    same_c += a.data()[i] == c.data()[i];
    sum += a.data()[i];
    sq += static_cast<double>(a.data()[i]) * a.data()[i];
  }
  EXPECT_LT(same_c, 10);
  const double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.01);  // 5 standard errors (0.5 / sqrt(n) = 0.0011) is far inside this
  EXPECT_NEAR(sd, 0.5, 0.01);
  EXPECT_THROW(iv::noise(-1.0f), Error);
  Tensor z({3});
  iv::noise(0.0f, 1).fn(z, ctx());
  EXPECT_EQ(z.at({0}), 0.0f);
}

TEST(Edits, ReplaceWithExactAndBroadcastBatch) {
  Tensor t = ramp({2, 3, 2});
  Tensor r = ramp({2, 3, 2}, 50.0f);
  iv::replace_with(r).fn(t, ctx());
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.data()[i], r.data()[i]);
  Tensor u = ramp({2, 3, 2});
  Tensor one = ramp({3, 2}, -10.0f);  // no batch axis: every row
  iv::replace_with(one).fn(u, ctx());
  EXPECT_EQ(u.at({1, 2, 1}), one.at({2, 1}));
  EXPECT_EQ(u.at({0, 0, 0}), one.at({0, 0}));
  Tensor w = ramp({2, 3, 2});
  EXPECT_THROW(iv::replace_with(ramp({2, 4, 2})).fn(w, ctx()), Error);
  EXPECT_THROW(iv::replace_with(ramp({3, 3, 2})).fn(w, ctx()), Error);
}

TEST(Edits, ReplaceWithAlignStartAndEnd) {
  // value T=4, replacement T=2: Start fills positions 0-1, End positions 2-3.
  Tensor r({1, 2, 1}, {100, 200});
  Tensor s = ramp({1, 4, 1});
  iv::replace_with(r, iv::Align::Start).fn(s, ctx());
  EXPECT_EQ(s.data()[0], 100.0f);
  EXPECT_EQ(s.data()[1], 200.0f);
  EXPECT_EQ(s.data()[2], 3.0f);
  Tensor e = ramp({1, 4, 1});
  iv::replace_with(r, iv::Align::End).fn(e, ctx());
  EXPECT_EQ(e.data()[1], 2.0f);
  EXPECT_EQ(e.data()[2], 100.0f);
  EXPECT_EQ(e.data()[3], 200.0f);
  // Longer replacement, End: its last 2 positions land on the value's 2.
  Tensor longer({1, 3, 1}, {7, 8, 9});
  Tensor v = ramp({1, 2, 1});
  iv::replace_with(longer, iv::Align::End).fn(v, ctx());
  EXPECT_EQ(v.data()[0], 8.0f);
  EXPECT_EQ(v.data()[1], 9.0f);
  // Not defined on square [B, H, T, T] hooks.
  Tensor p = ramp({1, 1, 2, 2});
  EXPECT_THROW(iv::replace_with(ramp({1, 1, 1, 1}), iv::Align::Start).fn(p, ctx("blocks.0.attn.hook_pattern")), Error);
}

TEST(Edits, ComposeAppliesInOrder) {
  Tensor t({2}, {1, 2});
  auto e = iv::compose({iv::scale(3.0f), iv::add_vector(Tensor({2}, {1, 1})), iv::clamp(0, 6)});
  e.fn(t, ctx());
  EXPECT_EQ(t.at({0}), 4.0f);  // 1*3+1
  EXPECT_EQ(t.at({1}), 6.0f);  // 2*3+1 = 7 -> clamped
  EXPECT_EQ(e.description, "compose(scale(3), add_vector([2]), clamp(0, 6))");
  int calls = 0;
  auto c = iv::custom([&calls](Tensor&, const HookContext& hc) { calls += hc.layer + 1; }, "count");
  c.fn(t, {"blocks.4.hook_mlp_out", 4});
  EXPECT_EQ(calls, 5);
  EXPECT_THROW(iv::custom(nullptr), Error);
}

TEST(Edits, OnResolvesAliasesAndRejectsUnknownNames) {
  Intervention a = iv::on("model.model.layers.8.self_attn", iv::zero_out());
  EXPECT_EQ(a.target, "blocks.8.hook_attn_out");
  EXPECT_EQ(a.description, "zero_out @ blocks.8.hook_attn_out");
  EXPECT_EQ(iv::on("model.layers.2", iv::zero_out()).target, "blocks.2.hook_resid_post");
  EXPECT_EQ(iv::on("blocks.*.hook_attn_out", iv::zero_out()).target, "blocks.*.hook_attn_out");
  try {
    iv::on("blocks.0.attn.hook_nothing", iv::zero_out());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    // A hook name is an argument the caller got wrong, not a missing file (issue 13).
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("blocks.0.attn.hook_nothing"), std::string::npos);
  }
}

TEST(Edits, MatchingHooksCanonicalAndGlob) {
  std::vector<std::string> names = {"hook_embed", "blocks.0.hook_attn_out", "blocks.1.hook_attn_out",
                                    "blocks.1.attn.hook_z", "logits"};
  EXPECT_EQ(iv::matching_hooks("model.layers.1.self_attn", names), std::vector<std::string>{"blocks.1.hook_attn_out"});
  EXPECT_EQ(iv::matching_hooks("blocks.*.hook_attn_out", names).size(), 2u);
  EXPECT_TRUE(iv::matching_hooks("blocks.7.hook_attn_out", names).empty());
  EXPECT_EQ(iv::matching_hooks("lm_head", names), std::vector<std::string>{"logits"});
}
