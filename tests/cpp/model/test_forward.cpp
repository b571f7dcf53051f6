// The Llama forward pass against a plain reference written here (naive loops, own RoPE), and the
// invariants of the captured attention patterns on the trained stories260K model.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "model/reference_llama.h"

using namespace attnscope;

namespace {

const std::string kStories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";
const std::vector<int32_t> kIds = {1, 403, 407, 261, 378, 285, 261, 291, 380, 400, 266, 322, 295};

RunOptions opts(std::vector<std::string> capture, std::vector<int> layers = {},
                std::vector<Intervention> interventions = {}) {
  RunOptions o;
  o.capture = std::move(capture);
  o.layers = std::move(layers);
  o.interventions = std::move(interventions);
  return o;
}

}  // namespace

TEST(Forward, MatchesPlainReferenceOnStories260K) {
  GgufFile f = GgufFile::open(kStories);
  auto ref = test_reference::reference_logits(f, kIds);
  Model model = Model::load(kStories);
  Trace trace = model.run(kIds);
  const Tensor& lg = trace.logits;
  ASSERT_EQ(lg.shape(), Shape({1, static_cast<int64_t>(kIds.size()), 512}));
  double worst = 0;
  for (size_t t = 0; t < kIds.size(); ++t)
    for (int v = 0; v < 512; ++v)
      worst = std::max(worst, std::abs(static_cast<double>(lg.at({0, static_cast<int64_t>(t), v})) - ref[t][v]));
  EXPECT_LT(worst, 1e-4);
}

TEST(Forward, ConfigFromGgufMetadata) {
  Model model = Model::load(kStories);
  const ModelConfig& c = model.config();
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.n_ff, 172);
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_FLOAT_EQ(c.rope_base, 10000.0f);
  EXPECT_EQ(c.rope_layout, RopeLayout::Interleaved);
  EXPECT_FALSE(c.tied_embeddings);  // output.weight is stored (bit-identical to token_embd)
}

TEST(Forward, PatternsAreCausalDistributionsAndReproduceAttentionOutput) {
  GgufFile f = GgufFile::open(kStories);
  Model model = Model::load(kStories);
  const ModelConfig& c = model.config();
  Trace tr = model.run(kIds, opts({"blocks.*.attn.hook_pattern", "blocks.*.attn.hook_v", "blocks.*.hook_attn_out"}));
  const int64_t T = static_cast<int64_t>(kIds.size()), H = c.n_head, hd = c.head_dim, D = c.n_embd;
  const int64_t G = c.n_head / c.n_head_kv;
  ASSERT_EQ(tr.attention_patterns().size(), 5u);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string P = "blocks." + std::to_string(l) + ".";
    const Tensor& p = tr.at(P + "attn.hook_pattern");
    const Tensor& v = tr.at(P + "attn.hook_v");
    const Tensor& out = tr.at(P + "hook_attn_out");
    ASSERT_EQ(p.shape(), Shape({1, H, T, T}));
    ASSERT_EQ(v.shape(), Shape({1, T, c.n_head_kv, hd}));
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        double sum = 0;
        for (int64_t j = 0; j < T; ++j) {
          const float x = p.at({0, h, i, j});
          if (j > i) {
            EXPECT_EQ(x, 0.0f) << "layer " << l << " head " << h << " (" << i << "," << j << ")";
          }
          EXPECT_GE(x, 0.0f);
          sum += x;
        }
        EXPECT_NEAR(sum, 1.0, 1e-5) << "layer " << l << " head " << h << " row " << i;
      }
    // pattern . V per head, then the output projection read straight from the file.
    const Tensor wo = f.load_tensor("blk." + std::to_string(l) + ".attn_output.weight");  // [D, H*hd]
    for (int64_t i = 0; i < T; ++i) {
      std::vector<double> z(static_cast<size_t>(H * hd), 0.0);
      for (int64_t h = 0; h < H; ++h)
        for (int64_t j = 0; j <= i; ++j)
          for (int64_t e = 0; e < hd; ++e) z[h * hd + e] += p.at({0, h, i, j}) * v.at({0, j, h / G, e});
      for (int64_t o = 0; o < D; ++o) {
        double s = 0;
        for (int64_t k = 0; k < H * hd; ++k) s += wo.data()[o * H * hd + k] * z[k];
        EXPECT_NEAR(s, out.at({0, i, o}), 1e-4) << "layer " << l << " pos " << i << " dim " << o;
      }
    }
  }
}

TEST(Forward, BatchRowsEqualRunningAlone) {
  Model model = Model::load(kStories);
  const std::vector<int32_t> a = {1, 403, 407, 261, 378, 285, 261};
  const std::vector<int32_t> b = {1, 291, 380, 400, 266, 322, 295};
  RunOptions opt = opts({"blocks.*.attn.hook_pattern"});
  Trace both = model.run_batch({a, b}, opt);
  Trace ta = model.run(a, opt), tb = model.run(b, opt);
  for (int l = 0; l < model.config().n_layer; ++l) {
    const std::string name = "blocks." + std::to_string(l) + ".attn.hook_pattern";
    const Tensor& pb = both.at(name);
    ASSERT_EQ(pb.dim(0), 2);
    for (int row = 0; row < 2; ++row) {
      const Tensor& alone = (row == 0 ? ta : tb).at(name);
      const Tensor mine = pb.slice0(row);
      for (int64_t i = 0; i < alone.numel(); ++i) EXPECT_NEAR(mine.data()[i], alone.data()[i], 1e-6);
    }
  }
  for (int row = 0; row < 2; ++row) {
    const Tensor& alone = (row == 0 ? ta : tb).logits;
    const Tensor mine = both.logits.slice0(row);
    for (int64_t i = 0; i < alone.numel(); ++i) EXPECT_NEAR(mine.data()[i], alone.data()[i], 1e-5);
  }
}

TEST(Forward, CaptureSpecKeepsOnlyWhatWasAsked) {
  Model model = Model::load(kStories);
  Trace t = model.run(kIds, opts({"blocks.*.attn.hook_pattern"}, {1, 3}));
  EXPECT_EQ(t.captured().size(), 2u);
  EXPECT_TRUE(t.has("blocks.1.attn.hook_pattern"));
  EXPECT_TRUE(t.has("blocks.3.attn.hook_pattern"));
  EXPECT_FALSE(t.has("blocks.0.attn.hook_pattern"));
  EXPECT_THROW(t.at("blocks.0.attn.hook_pattern"), Error);

  // Aliases (Hugging Face module paths, mlxterp's doubled "model.") land on canonical names.
  Trace a = model.run(kIds, opts({"model.model.layers.2.self_attn", "model.layers.*.mlp", "lm_head"}));
  EXPECT_TRUE(a.has("blocks.2.hook_attn_out"));
  for (int l = 0; l < 5; ++l) EXPECT_TRUE(a.has("blocks." + std::to_string(l) + ".hook_mlp_out"));
  EXPECT_EQ(a.captured().size(), 6u);
  EXPECT_EQ(a.at("logits").dim(2), 512);

  Trace none = model.run(kIds);
  EXPECT_TRUE(none.captured().empty());
  EXPECT_EQ(none.logits.dim(1), static_cast<int64_t>(kIds.size()));

  for (const char* bad : {"blocks.9.attn.hook_pattern", "blocks.0.attn.hook_nothing", "nope.*", "hook_pos_embed"}) {
    try {
      model.run(kIds, opts({bad}));
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(model.run(kIds, opts({"blocks.*.attn.hook_pattern"}, {5})), Error);
}

TEST(Forward, CapturedValuesMatchTheirDefinitions) {
  Model model = Model::load(kStories);
  const ModelConfig& c = model.config();
  Trace t = model.run(kIds, opts({"blocks.0.*", "hook_embed"}));
  const int64_t T = static_cast<int64_t>(kIds.size());
  // resid_pre of layer 0 is the embedding; resid_mid = resid_pre + attn_out; resid_post = mid + mlp_out;
  // the per-head results sum to attn_out.
  const Tensor& e = t.at("hook_embed");
  const Tensor& pre = t.at("blocks.0.hook_resid_pre");
  const Tensor& mid = t.at("blocks.0.hook_resid_mid");
  const Tensor& post = t.at("blocks.0.hook_resid_post");
  const Tensor& ao = t.at("blocks.0.hook_attn_out");
  const Tensor& mo = t.at("blocks.0.hook_mlp_out");
  const Tensor& res = t.at("blocks.0.attn.hook_result");
  ASSERT_EQ(res.shape(), Shape({1, T, c.n_head, c.n_embd}));
  for (int64_t i = 0; i < T; ++i)
    for (int64_t d = 0; d < c.n_embd; ++d) {
      EXPECT_EQ(e.at({0, i, d}), pre.at({0, i, d}));
      EXPECT_NEAR(mid.at({0, i, d}), pre.at({0, i, d}) + ao.at({0, i, d}), 1e-5);
      EXPECT_NEAR(post.at({0, i, d}), mid.at({0, i, d}) + mo.at({0, i, d}), 1e-5);
      double s = 0;
      for (int64_t h = 0; h < c.n_head; ++h) s += res.at({0, i, h, d});
      EXPECT_NEAR(s, ao.at({0, i, d}), 1e-5);
    }
  // Scores: masked above the diagonal, and softmax of a row gives the pattern row.
  const Tensor& sc = t.at("blocks.0.attn.hook_attn_scores");
  const Tensor& p = t.at("blocks.0.attn.hook_pattern");
  for (int64_t h = 0; h < c.n_head; ++h)
    for (int64_t i = 0; i < T; ++i) {
      double mx = -1e30, sum = 0;
      for (int64_t j = 0; j <= i; ++j) mx = std::max<double>(mx, sc.at({0, h, i, j}));
      for (int64_t j = 0; j <= i; ++j) sum += std::exp(sc.at({0, h, i, j}) - mx);
      for (int64_t j = 0; j < T; ++j) {
        if (j > i) {
          EXPECT_TRUE(std::isinf(sc.at({0, h, i, j})) && sc.at({0, h, i, j}) < 0);
        } else {
          EXPECT_NEAR(std::exp(sc.at({0, h, i, j}) - mx) / sum, p.at({0, h, i, j}), 1e-6);
        }
      }
    }
}

TEST(Forward, InterventionChangesWhatFollowsAndIsWhatIsCaptured) {
  Model model = Model::load(kStories);
  // Uniform attention over the visible prefix in layer 2: the captured pattern is the altered one.
  Intervention iv{"blocks.2.attn.hook_pattern",
                  [](Tensor& p, const HookContext& ctx) {
                    EXPECT_EQ(ctx.layer, 2);
                    const int64_t T = p.dim(2);
                    for (int64_t h = 0; h < p.dim(1); ++h)
                      for (int64_t i = 0; i < T; ++i)
                        for (int64_t j = 0; j < T; ++j) p.at({0, h, i, j}) = j <= i ? 1.0f / (i + 1) : 0.0f;
                  },
                  "uniform"};
  Trace base = model.run(kIds);
  Trace t = model.run(kIds, opts({"blocks.2.attn.hook_pattern"}, {}, {iv}));
  EXPECT_FLOAT_EQ(t.at("blocks.2.attn.hook_pattern").at({0, 0, 3, 1}), 0.25f);
  double diff = 0;
  for (int64_t i = 0; i < base.logits.numel(); ++i)
    diff = std::max(diff, std::abs(static_cast<double>(base.logits.data()[i]) - t.logits.data()[i]));
  EXPECT_GT(diff, 1e-3);
  Intervention bad{"blocks.99.hook_resid_pre", [](Tensor&, const HookContext&) {}, "nothing"};
  EXPECT_THROW(model.run(kIds, opts({}, {}, {bad})), Error);
}

TEST(Forward, BadInputGivesClearErrors) {
  Model model = Model::load(kStories);
  auto kind_of = [&](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::Network;  // "no error" marker
  };
  EXPECT_EQ(kind_of([&] { model.run(std::vector<int32_t>{}); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] { model.run(std::string_view("")); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] { model.run(std::vector<int32_t>{1, 512}); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] { model.run(std::vector<int32_t>{1, -3}); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] { model.run(std::vector<int32_t>(2049, 1)); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] {
              model.run_batch({{1, 2}, {}});
            }),
            ErrorKind::InvalidArgument);  // ragged is fine, empty is not
  EXPECT_EQ(kind_of([&] { model.run_batch({}); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] { Model::load("/nonexistent/model.gguf"); }), ErrorKind::NotFound);
  EXPECT_EQ(kind_of([&] { Model::load(std::string(ATTNSCOPE_MODELS_DIR) + "/MANIFEST.md"); }), ErrorKind::Format);
}
