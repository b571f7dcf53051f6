// Interventions inside a real forward pass (stories260K: 5 layers, 8 query heads sharing 4 kv
// heads), each checked against an independent computation: edited weights, hand-computed
// attention, or a second run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/predictions.h"
#include "common/tensor_compare.h"
#include "common/test_files.h"

using namespace attnscope;
using test::bitwise_equal;
using test::max_abs_diff;

namespace {

const Model& stories() {
  static Model m = Model::load(test::model_path("stories260K.gguf"));
  return m;
}

const std::vector<int32_t>& prompt() {
  static std::vector<int32_t> ids = stories().encode("Once upon a time, there was a little girl named Lily.");
  return ids;
}

Trace run(const Model& m, std::vector<Intervention> ivs, std::vector<std::string> capture = {}) {
  RunOptions o;
  o.interventions = std::move(ivs);
  o.capture = std::move(capture);
  return m.run(prompt(), o);
}

}  // namespace

TEST(ModelInterventions, ZeroAttentionOutputEqualsZeroedOProjWeights) {
  const int layer = 2;
  const std::string path = test::temp_path("zero_oproj.gguf");
  test::GgufEdits zero_oproj;
  zero_oproj.edit_tensor = [&](const std::string& name, Tensor& t) {
    if (name == "blk.2.attn_output.weight") std::memset(t.data(), 0, sizeof(float) * t.numel());
  };
  test::copy_gguf(test::model_path("stories260K.gguf"), path, zero_oproj);
  Model edited = Model::load(path);
  std::filesystem::remove(path);  // the mapping stays valid
  Trace want = edited.run(prompt());
  // The mlxterp spelling of the attention block output.
  Trace got = run(stories(), {iv::on("model.model.layers." + std::to_string(layer) + ".self_attn", iv::zero_out())});
  EXPECT_TRUE(bitwise_equal(got.logits, want.logits)) << max_abs_diff(got.logits, want.logits);
  Trace clean = run(stories(), {});
  EXPECT_GT(max_abs_diff(clean.logits, want.logits), 0.1f);  // the edit matters
}

TEST(ModelInterventions, ZeroingOneHeadOnHookZEqualsZeroingItsOProjColumnsUnderGqa) {
  // Head 3 shares kv head 1 with head 2: zeroing head 3's z must leave head 2 intact, exactly as
  // zeroing the o_proj input columns of head 3 does.
  const int layer = 1, head = 3;
  const auto& c = stories().config();
  ASSERT_LT(c.n_head_kv, c.n_head);
  const std::string path = test::temp_path("zero_head_cols.gguf");
  test::GgufEdits zero_cols;
  zero_cols.edit_tensor = [&](const std::string& name, Tensor& t) {
    if (name != "blk.1.attn_output.weight") return;
    for (int64_t r = 0; r < t.dim(0); ++r)
      for (int64_t d = 0; d < c.head_dim; ++d) t.at({r, head * c.head_dim + d}) = 0.0f;
  };
  test::copy_gguf(test::model_path("stories260K.gguf"), path, zero_cols);
  Model edited = Model::load(path);
  std::filesystem::remove(path);
  Trace want = edited.run(prompt());
  Trace got = run(stories(), {iv::zero_ablate_heads(layer, {head})});
  EXPECT_LT(max_abs_diff(got.logits, want.logits), 1e-4f);
  EXPECT_GT(max_abs_diff(got.logits, run(stories(), {}).logits), 1e-3f);
}

TEST(ModelInterventions, ZeroingEveryHeadOnHookZEqualsZeroingAttentionOutput) {
  const int layer = 3;
  std::vector<int> all;
  for (int h = 0; h < stories().config().n_head; ++h) all.push_back(h);
  Trace a = run(stories(), {iv::zero_ablate_heads(layer, all)});
  Trace b = run(stories(), {iv::on("blocks.3.hook_attn_out", iv::zero_out())});
  EXPECT_TRUE(bitwise_equal(a.logits, b.logits)) << max_abs_diff(a.logits, b.logits);
}

TEST(ModelInterventions, SettingAHeadsPatternToItsOwnChangesNothingBitwise) {
  Trace clean = run(stories(), {}, {"blocks.*.attn.hook_pattern"});
  std::vector<Intervention> ivs;
  for (int l = 0; l < stories().config().n_layer; ++l)
    for (int h = 0; h < stories().config().n_head; ++h)
      ivs.push_back(iv::set_head_pattern(l, h, iv::head_pattern(clean, l, h)));
  Trace same = run(stories(), ivs);
  EXPECT_TRUE(bitwise_equal(same.logits, clean.logits));
}

TEST(ModelInterventions, UniformPatternMatchesHandComputedAverageOfValues) {
  // z[t, h] must become the plain average of v[s, h / G] over s <= t (v from the same run).
  const int layer = 2, head = 5;
  const auto& c = stories().config();
  const int G = c.n_head / c.n_head_kv;
  Trace t =
      run(stories(), {iv::set_head_pattern_uniform(layer, head)},
          {"blocks.2.attn.hook_v", "blocks.2.attn.hook_z", "blocks.2.attn.hook_pattern", "blocks.2.hook_attn_out"});
  const Tensor& v = t.at("blocks.2.attn.hook_v");  // [1, T, Hkv, Dh]
  const Tensor& z = t.at("blocks.2.attn.hook_z");  // [1, T, H, Dh]
  const int64_t T = z.dim(1);
  for (int64_t q = 0; q < T; ++q)
    for (int64_t d = 0; d < c.head_dim; ++d) {
      double sum = 0;
      for (int64_t s = 0; s <= q; ++s) sum += v.at({0, s, head / G, d});
      EXPECT_NEAR(z.at({0, q, head, d}), sum / static_cast<double>(q + 1), 1e-5) << "q=" << q << " d=" << d;
    }
  EXPECT_FLOAT_EQ(t.at("blocks.2.attn.hook_pattern").at({0, head, T - 1, 0}), 1.0f / static_cast<float>(T));
  // And the attention output is z through o_proj, by hand.
  GgufFile f = GgufFile::open(test::model_path("stories260K.gguf"));
  const Tensor wo = f.load_tensor("blk.2.attn_output.weight");  // [D, H*Dh]
  const Tensor& out = t.at("blocks.2.hook_attn_out");
  const int64_t HD = int64_t{c.n_head} * c.head_dim;
  for (int64_t q = 0; q < T; q += 3)
    for (int64_t r = 0; r < c.n_embd; ++r) {
      double acc = 0;
      for (int64_t k = 0; k < HD; ++k) acc += static_cast<double>(wo.at({r, k})) * z.data()[q * HD + k];
      EXPECT_NEAR(out.at({0, q, r}), acc, 1e-4);
    }
}

TEST(ModelInterventions, PatchingEveryHeadFromCleanReproducesCleanLogits) {
  // Prompts differ in one token. With every head's output patched from the clean run, every
  // position other than the changed one sees exactly the clean residual stream (embedding, attention
  // and position-wise MLP all equal), so its logits are the clean logits.
  std::vector<int32_t> clean_ids = prompt();
  std::vector<int32_t> corrupt_ids = clean_ids;
  const size_t changed = 4;
  corrupt_ids[changed] = corrupt_ids[changed] == 100 ? 101 : 100;
  RunOptions cap;
  cap.capture = {"blocks.*.attn.hook_z", "blocks.*.attn.hook_result"};
  Trace clean = stories().run(clean_ids, cap);
  Trace corrupt = stories().run(corrupt_ids);
  std::vector<int> all;
  for (int h = 0; h < stories().config().n_head; ++h) all.push_back(h);
  for (const std::string hook : {"attn.hook_z", "attn.hook_result"}) {
    RunOptions o;
    for (int l = 0; l < stories().config().n_layer; ++l)
      o.interventions.push_back(iv::patch_heads(l, all, clean, hook));
    Trace patched = stories().run(corrupt_ids, o);
    const int64_t T = patched.logits.dim(1), V = patched.logits.dim(2);
    for (int64_t t = 0; t < T; ++t) {
      float diff = 0, diff_corrupt = 0;
      for (int64_t i = 0; i < V; ++i) {
        diff = std::max(diff, std::abs(patched.logits.at({0, t, i}) - clean.logits.at({0, t, i})));
        diff_corrupt = std::max(diff_corrupt, std::abs(corrupt.logits.at({0, t, i}) - clean.logits.at({0, t, i})));
      }
      if (t == static_cast<int64_t>(changed)) {
        EXPECT_GT(diff, 1e-3f) << hook;  // its own embedding still differs
      } else {
        EXPECT_LT(diff, 1e-4f) << hook << " t=" << t;
        if (t > static_cast<int64_t>(changed)) {
          EXPECT_GT(diff_corrupt, 1e-3f) << "t=" << t;  // patching did the work
        }
      }
    }
  }
  // Different lengths cannot be patched.
  std::vector<int32_t> shorter(clean_ids.begin(), clean_ids.end() - 1);
  RunOptions bad;
  bad.interventions.push_back(iv::patch_heads(0, {0}, clean));
  EXPECT_THROW(stories().run(shorter, bad), Error);
}

TEST(ModelInterventions, UnknownTargetsAreErrors) {
  RunOptions o;
  o.interventions.push_back({"blocks.99.hook_attn_out", iv::zero_out().fn, "zero"});
  EXPECT_THROW(stories().run(prompt(), o), Error);
  EXPECT_THROW(iv::validate(stories(), o.interventions), Error);
  RunOptions g;
  g.interventions.push_back({"blocks.*.hook_nothing", iv::zero_out().fn, "zero"});
  EXPECT_THROW(stories().run(prompt(), g), Error);
  EXPECT_NO_THROW(iv::validate(stories(), {iv::on("model.layers.4.mlp", iv::scale(2))}));
  EXPECT_THROW(iv::on("model.layers.1.nothing", iv::zero_out()), Error);
}

TEST(ModelInterventions, AppliedInForwardOrderThenListOrder) {
  std::vector<std::string> seen;
  auto log = [&seen](const std::string& tag) {
    return iv::custom([&seen, tag](Tensor&, const HookContext& ctx) { seen.push_back(tag + ":" + ctx.name); }, tag);
  };
  run(stories(), {iv::on("blocks.1.hook_attn_out", log("a")), iv::on("blocks.0.hook_mlp_out", log("b")),
                  iv::on("blocks.1.hook_attn_out", log("c")), iv::on("hook_embed", log("d"))});
  std::vector<std::string> want = {"d:hook_embed", "b:blocks.0.hook_mlp_out", "a:blocks.1.hook_attn_out",
                                   "c:blocks.1.hook_attn_out"};
  EXPECT_EQ(seen, want);
  // Two edits on one hook compose in list order: (x*2)+1 vs (x+1)*2.
  Tensor one({stories().config().n_embd});
  std::fill(one.data(), one.data() + one.numel(), 1.0f);
  Trace a = run(stories(),
                {iv::on("blocks.0.hook_attn_out", iv::scale(2)), iv::on("blocks.0.hook_attn_out", iv::add_vector(one))},
                {"blocks.0.hook_attn_out"});
  Trace base = run(stories(), {}, {"blocks.0.hook_attn_out"});
  EXPECT_FLOAT_EQ(a.at("blocks.0.hook_attn_out").at({0, 2, 5}),
                  base.at("blocks.0.hook_attn_out").at({0, 2, 5}) * 2 + 1);
}

TEST(ModelInterventions, SteeringVectorAddsToEveryPositionAndGlobsHitEveryLayer) {
  const int64_t D = stories().config().n_embd;
  Tensor v({D});
  for (int64_t i = 0; i < D; ++i) v.data()[i] = 0.01f * static_cast<float>(i % 7);
  Trace base = run(stories(), {}, {"blocks.1.hook_resid_post"});
  Trace steered = run(stories(), {iv::on("model.layers.1", iv::add_vector(v, 3.0f))}, {"blocks.1.hook_resid_post"});
  const Tensor& a = base.at("blocks.1.hook_resid_post");
  const Tensor& b = steered.at("blocks.1.hook_resid_post");
  for (int64_t t = 0; t < a.dim(1); ++t)
    for (int64_t d = 0; d < D; d += 5) EXPECT_FLOAT_EQ(b.at({0, t, d}), a.at({0, t, d}) + 3.0f * v.at({d}));
  int calls = 0;
  run(stories(), {iv::on("blocks.*.hook_attn_out", iv::custom([&calls](Tensor&, const HookContext&) { ++calls; }))});
  EXPECT_EQ(calls, stories().config().n_layer);
  // Noise is reproducible through a whole run.
  Trace n1 = run(stories(), {iv::on("blocks.*.hook_resid_mid", iv::noise(0.1f, 42))});
  Trace n2 = run(stories(), {iv::on("blocks.*.hook_resid_mid", iv::noise(0.1f, 42))});
  EXPECT_TRUE(bitwise_equal(n1.logits, n2.logits));
}

TEST(ModelInterventions, MeanAblationUsesTheRunsOwnMeanPerHead) {
  const int layer = 1, head = 6;
  Trace t = run(stories(), {iv::mean_ablate_heads(layer, {head})}, {"blocks.1.attn.hook_z"});
  Trace clean = run(stories(), {}, {"blocks.1.attn.hook_z"});
  const Tensor& z = t.at("blocks.1.attn.hook_z");
  const Tensor means = iv::head_means(clean, layer);
  for (int64_t q = 0; q < z.dim(1); ++q)
    for (int64_t d = 0; d < z.dim(3); ++d) {
      EXPECT_FLOAT_EQ(z.at({0, q, head, d}), means.at({head, d}));
      EXPECT_EQ(z.at({0, q, 0, d}), clean.at("blocks.1.attn.hook_z").at({0, q, 0, d}));
    }
}
