// Value-weighted attention, direct logit attribution, composition scores, rollout and flow:
// closed forms on hand-built tiny weights, a dense second implementation of the composition
// scores, exactness of the logit decomposition on real models, and the toy model's circuit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>

#include "attnscope/analysis.h"
#include "attnscope/attribution.h"
#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "model/head_weights.h"

using namespace attnscope;

namespace {

const std::string kStories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";
const std::string kGpt2 = std::string(ATTNSCOPE_MODELS_DIR) + "/safetensors/lm-buddy-tiny_gpt2-random";

// A row-major [rows, cols] tensor from values.
Tensor mat(int64_t rows, int64_t cols, std::vector<float> v) { return Tensor({rows, cols}, std::move(v)); }

// The hand-built model: D = 4, two layers of two query heads sharing one kv head (GQA 2:1),
// head_dim 2, vocab 4 with one-hot embeddings of length 2 (so every normalised embedding is
// 2 * one-hot), zero MLPs, identity unembedding.
//   layer 0: q = k = 0 (uniform attention); v = x[0:2]; head 0 writes z into dims 2,3 with
//            scale 1, head 1 with scale 3.
//   layer 1: all zero except what the composition test sets through `layer1`.
struct TinySpec {
  std::vector<float> ln1 = {1, 1, 1, 1};              // layer 1's attn_norm weight
  std::vector<float> q1 = std::vector<float>(16, 0);  // layer 1 attn_q [4, 4]
  std::vector<float> k1 = std::vector<float>(8, 0);   // layer 1 attn_k [2, 4]
  std::vector<float> v1 = std::vector<float>(8, 0);   // layer 1 attn_v [2, 4]
  std::vector<float> o1 = std::vector<float>(16, 0);  // layer 1 attn_output [4, 4]
};

std::string write_tiny(const TinySpec& s, const std::string& tag) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_u32("llama.context_length", 16);
  w.set_u32("llama.embedding_length", 4);
  w.set_u32("llama.feed_forward_length", 2);
  w.set_u32("llama.attention.head_count", 2);
  w.set_u32("llama.attention.head_count_kv", 1);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-12f);
  w.add_tensor("token_embd.weight", mat(4, 4, {2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2}));
  w.add_tensor("output.weight", mat(4, 4, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}));
  w.add_tensor("output_norm.weight", Tensor({4}, {1, 1, 1, 1}));
  for (int l = 0; l < 2; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    w.add_tensor(b + "attn_norm.weight", Tensor({4}, l == 0 ? std::vector<float>{1, 1, 1, 1} : s.ln1));
    w.add_tensor(b + "ffn_norm.weight", Tensor({4}, {1, 1, 1, 1}));
    if (l == 0) {
      w.add_tensor(b + "attn_q.weight", Tensor({4, 4}));
      w.add_tensor(b + "attn_k.weight", Tensor({2, 4}));
      w.add_tensor(b + "attn_v.weight", mat(2, 4, {1, 0, 0, 0, 0, 1, 0, 0}));
      // attn_output [D, H*Dh]: head 0's columns 0,1 -> dims 2,3 (x1); head 1's columns 2,3 (x3).
      w.add_tensor(b + "attn_output.weight", mat(4, 4, {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 3, 0, 0, 1, 0, 3}));
    } else {
      w.add_tensor(b + "attn_q.weight", mat(4, 4, s.q1));
      w.add_tensor(b + "attn_k.weight", mat(2, 4, s.k1));
      w.add_tensor(b + "attn_v.weight", mat(2, 4, s.v1));
      w.add_tensor(b + "attn_output.weight", mat(4, 4, s.o1));
    }
    w.add_tensor(b + "ffn_gate.weight", Tensor({2, 4}));
    w.add_tensor(b + "ffn_up.weight", Tensor({2, 4}));
    w.add_tensor(b + "ffn_down.weight", Tensor({4, 2}));
  }
  const std::string path =
      (std::filesystem::temp_directory_path() / ("attnscope_attr_" + std::to_string(::getpid()) + "_" + tag + ".gguf"))
          .string();
  w.write(path);
  return path;
}

double sum_of(const Tensor& t, int64_t row) {
  const int64_t C = t.dim(1);
  double s = 0;
  for (int64_t k = 0; k < C; ++k) s += t.data()[row * C + k];
  return s;
}

}  // namespace

// ---- the weight adapter ---------------------------------------------------------------------

TEST(HeadWeights, GroupedHeadsShareKeysAndValuesButNotQueriesOrOutputs) {
  const std::string path = write_tiny({}, "adapter");
  const Model m = Model::load(path);
  const auto h0 = detail::head_weights(m, 0, 0), h1 = detail::head_weights(m, 0, 1);
  EXPECT_EQ(h0.kv_head, 0);
  EXPECT_EQ(h1.kv_head, 0);
  EXPECT_EQ(h0.W_V.shape(), (Shape{4, 2}));
  EXPECT_EQ(h0.W_O.shape(), (Shape{2, 4}));
  // v = x[0:2]: W_V (row-vector orientation) [D, Dh] has 1 at (0,0) and (1,1).
  EXPECT_EQ(h1.W_V.at({0, 0}), 1.0f);
  EXPECT_EQ(h1.W_V.at({1, 1}), 1.0f);
  EXPECT_EQ(h1.W_V.at({2, 0}), 0.0f);
  // W_O [Dh, D]: head 0 writes z0 -> dim 2 with 1, head 1 with 3.
  EXPECT_EQ(h0.W_O.at({0, 2}), 1.0f);
  EXPECT_EQ(h1.W_O.at({0, 2}), 3.0f);
  EXPECT_EQ(h1.W_O.at({1, 3}), 3.0f);
  EXPECT_TRUE(h0.b_Q.empty());
  EXPECT_THROW(detail::head_weights(m, 2, 0), Error);
  EXPECT_THROW(detail::head_weights(m, 0, 2), Error);
  std::filesystem::remove(path);
}

TEST(HeadWeights, ReproduceTheForwardPassProjections) {
  // Against the model's own forward: at position 0 RoPE turns nothing, so hook_q/hook_k there are
  // ln1(x) W + b; hook_v is that at every position; hook_result is hook_z W_O. Grouped kv heads
  // (stories260K, 8 heads on 4 kv heads) and GPT-2's fused qkv with biases.
  for (const std::string& path : {kStories, kGpt2}) {
    const Model m = Model::load(path);
    const ModelConfig& c = m.config();
    const std::vector<int32_t> ids = {1, 20, 16, 3, 15, 10};
    for (int l : {0, c.n_layer - 1}) {
      const std::string P = "blocks." + std::to_string(l) + ".";
      RunOptions ro;
      for (const char* h :
           {"ln1.hook_normalized", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_z", "attn.hook_result"})
        ro.capture.push_back(P + h);
      const Trace t = m.run(ids, ro);
      const Tensor &x = t.at(P + "ln1.hook_normalized"), &q = t.at(P + "attn.hook_q"), &k = t.at(P + "attn.hook_k"),
                   &v = t.at(P + "attn.hook_v"), &z = t.at(P + "attn.hook_z"), &r = t.at(P + "attn.hook_result");
      const int64_t D = c.n_embd, Dh = c.head_dim, H = c.n_head, Hkv = c.n_head_kv, T = 6;
      double worst = 0;
      for (int h = 0; h < H; ++h) {
        const auto hw = detail::head_weights(m, l, h);
        auto proj = [&](const Tensor& W, const Tensor& b, int64_t p, int64_t j) {
          double s = b.empty() ? 0.0 : b.data()[j];
          for (int64_t d = 0; d < D; ++d) s += static_cast<double>(x.data()[p * D + d]) * W.data()[d * Dh + j];
          return s;
        };
        for (int64_t j = 0; j < Dh; ++j) {
          worst = std::max(worst, std::abs(proj(hw.W_Q, hw.b_Q, 0, j) - q.data()[h * Dh + j]));
          worst = std::max(worst, std::abs(proj(hw.W_K, hw.b_K, 0, j) - k.data()[hw.kv_head * Dh + j]));
          for (int64_t p = 0; p < T; ++p)
            worst = std::max(worst, std::abs(proj(hw.W_V, hw.b_V, p, j) - v.data()[(p * Hkv + hw.kv_head) * Dh + j]));
        }
        for (int64_t p = 0; p < T; ++p)
          for (int64_t d = 0; d < D; ++d) {
            double s = 0;
            for (int64_t j = 0; j < Dh; ++j)
              s += static_cast<double>(z.data()[(p * H + h) * Dh + j]) * hw.W_O.at({j, d});
            worst = std::max(worst, std::abs(s - r.data()[(p * H + h) * D + d]));
          }
      }
      EXPECT_LT(worst, 1e-4) << path << " layer " << l;
    }
  }
}

// ---- value-weighted attention ----------------------------------------------------------------

TEST(ValueWeighted, ClosedFormOnUniformHeads) {
  const std::string path = write_tiny({}, "vw");
  const Model m = Model::load(path);
  const std::vector<int32_t> ids = {0, 2, 1, 3, 0};
  // Layer 0 attends uniformly (q = k = 0); f_h(x_j) = 2 s_h [one-hot(t_j) restricted to dims 0,1]
  // written to dims 2,3, so ||alpha_ij f_h(x_j)|| = 2 s_h / (i + 1) for tokens 0 and 1, else 0.
  const auto vw = value_weighted_patterns(m, ids, false, {0});
  ASSERT_EQ(vw.count(0), 1u);
  const Tensor& t = vw.at(0);
  ASSERT_EQ(t.shape(), (Shape{1, 2, 5, 5}));
  for (int h = 0; h < 2; ++h) {
    const double s = h == 0 ? 1.0 : 3.0;
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 5; ++j) {
        const double expect = j > i ? 0.0 : (ids[j] < 2 ? 2 * s / (i + 1) : 0.0);
        EXPECT_NEAR(t.at({0, h, i, j}), expect, 1e-5) << "head " << h << " q " << i << " k " << j;
      }
  }
  // Normalised: each row is the share of the norm; rows that move something sum to 1, and the
  // keys with a zero value vector get nothing although they hold half of the attention.
  const auto n = value_weighted_patterns(m, ids, true, {0});
  EXPECT_NEAR(n.at(0).at({0, 1, 2, 0}), 0.5, 1e-6);  // keys 0 and 2 of row 2 hold tokens 0 and 1
  EXPECT_NEAR(n.at(0).at({0, 1, 4, 2}), 1.0 / 3.0, 1e-6);
  EXPECT_EQ(n.at(0).at({0, 1, 4, 1}), 0.0f);
  EXPECT_NEAR(t.at({0, 1, 4, 1}) + t.at({0, 1, 4, 3}), 0.0, 1e-7);
  // Layer 1 writes nothing: raw and normalised are all zero (no division by zero).
  const auto l1 = value_weighted_patterns(m, ids, true, {1});
  for (int64_t i = 0; i < l1.at(1).numel(); ++i) EXPECT_EQ(l1.at(1).data()[i], 0.0f);
  std::filesystem::remove(path);
}

namespace {
// hook_result of layer l when every head of it attends only to the query's own position: head h
// at position i then writes exactly f_h(x_i) = v_i W_O^h, a second way to get what value-weighted
// attention computes from hook_v.
Tensor result_attending_to_self(const Model& m, const std::vector<int32_t>& ids, int l) {
  RunOptions forced;
  forced.capture = {"blocks." + std::to_string(l) + ".attn.hook_result"};
  forced.interventions.push_back({"blocks." + std::to_string(l) + ".attn.hook_pattern",
                                  [](Tensor& a, const HookContext&) {
                                    const int64_t T = a.dim(2);
                                    std::fill(a.data(), a.data() + a.numel(), 0.0f);
                                    for (int64_t bh = 0; bh < a.dim(0) * a.dim(1); ++bh)
                                      for (int64_t i = 0; i < T; ++i) a.data()[(bh * T + i) * T + i] = 1.0f;
                                  },
                                  "identity pattern"});
  return m.run(ids, forced).at("blocks." + std::to_string(l) + ".attn.hook_result");
}
}  // namespace

TEST(ValueWeighted, NormsMatchTheForwardPassWithAHeadForcedOntoOneKey) {
  // Second implementation: force every query of a layer to attend only to itself; hook_result
  // then is exactly f_h(x_i), whose norm must equal value_vector_norms.
  const Model m = Model::load(kStories);
  const std::vector<int32_t> ids = m.encode("Once upon a time there was a girl");
  RunOptions ro;
  ro.capture = value_weighted_hooks(m);
  const Trace clean = m.run(ids, ro);
  const auto norms = value_vector_norms(m, clean);
  ASSERT_EQ(norms.size(), 5u);
  for (int l : {0, 3}) {
    const Tensor r = result_attending_to_self(m, ids, l);  // [1, T, H, D]
    const int64_t T = r.dim(1), H = r.dim(2), D = r.dim(3);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        double ss = 0;
        for (int64_t d = 0; d < D; ++d) ss += std::pow(r.data()[((i * H) + h) * D + d], 2);
        EXPECT_NEAR(norms.at(l).at({0, h, i}), std::sqrt(ss), 1e-4) << "L" << l << "H" << h << " key " << i;
      }
  }
  // Value-weighted = pattern * norms, and the normalised rows sum to 1.
  const auto vw = value_weighted_patterns(m, clean, false);
  const auto vn = value_weighted_patterns(m, clean, true);
  const Tensor& a = clean.at("blocks.2.attn.hook_pattern");
  EXPECT_NEAR(vw.at(2).at({0, 5, 6, 3}), a.at({0, 5, 6, 3}) * norms.at(2).at({0, 5, 3}), 1e-6);
  for (int64_t i = 0; i < a.dim(2); ++i) {
    double s = 0;
    for (int64_t j = 0; j < a.dim(3); ++j) s += vn.at(2).at({0, 1, i, j});
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
}

TEST(ValueWeighted, PostAttentionNormIsPartOfWhatAHeadWrites) {
  // Gemma 2/3 and OLMo-2 normalise the attention output: f_h(x_j) = (v_j W_O^h) * w_post / rms_i.
  // Second implementation: v_j W_O^h from hook_result of a run forcing every head onto its own
  // position, w_post from the GGUF file, rms_i from the clean run's hook_result summed over heads.
  for (const char* family : {"gemma2", "gemma3", "olmo2"}) {
    const std::string path = std::string(ATTNSCOPE_MODELS_DIR) + "/arch/" + family + "/model.gguf";
    const Model m = Model::load(path);
    const std::vector<int32_t> ids = m.encode("Once upon a time there was a girl");
    const int l = 1;
    RunOptions ro;
    ro.capture = value_weighted_hooks(m, {l});
    ro.capture.push_back("blocks.1.attn.hook_result");
    const Trace clean = m.run(ids, ro);
    const Tensor f = result_attending_to_self(m, ids, l);  // [1, T, H, D]
    const Tensor post = GgufFile::open(path).load_tensor("blk.1.post_attention_norm.weight");
    const Tensor& r = clean.at("blocks.1.attn.hook_result");
    const Tensor& a = clean.at("blocks.1.attn.hook_pattern");
    const int64_t T = f.dim(1), H = f.dim(2), D = f.dim(3);
    const auto vw = value_weighted_patterns(m, clean, false).at(l);
    double worst = 0, largest = 0;
    for (int64_t i = 0; i < T; ++i) {
      double ss = 0;
      for (int64_t d = 0; d < D; ++d) {
        double x = 0;
        for (int64_t h = 0; h < H; ++h) x += r.data()[(i * H + h) * D + d];
        ss += x * x;
      }
      const double scale = 1.0 / std::sqrt(ss / static_cast<double>(D) + m.config().norm_eps);
      for (int64_t h = 0; h < H; ++h)
        for (int64_t j = 0; j <= i; ++j) {
          double nj = 0;
          for (int64_t d = 0; d < D; ++d) nj += std::pow(f.data()[(j * H + h) * D + d] * post.data()[d], 2);
          const double want = a.at({0, h, i, j}) * std::sqrt(nj) * scale;
          worst = std::max(worst, std::abs(vw.at({0, h, i, j}) - want));
          largest = std::max(largest, want);
        }
    }
    EXPECT_LT(worst, 1e-5 * largest) << family;
    EXPECT_GT(largest, 0.1) << family;
  }
}

TEST(ValueWeighted, MissingHookIsNamed) {
  const Model m = Model::load(kStories);
  RunOptions ro;
  ro.capture = {"blocks.0.attn.hook_pattern"};
  const Trace t = m.run(m.encode("Once upon"), ro);
  try {
    value_weighted_patterns(m, t);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    EXPECT_NE(std::string(e.what()).find("hook_v"), std::string::npos) << e.what();
  }
}

// ---- direct logit attribution ----------------------------------------------------------------

TEST(LogitAttribution, ClosedFormOnTheTinyModel) {
  const std::string path = write_tiny({}, "dla");
  const Model m = Model::load(path);
  // Tokens 0, 1, 2. At position 2: z = (v0 + v1 + v2) / 3 = (2/3, 2/3); head 0 writes
  // (0, 0, 2/3, 2/3), head 1 three times that; the embedding is (0, 0, 2, 0). The final stream
  // (0, 0, 14/3, 8/3) has rms sqrt(65)/3, so the logit of token 2 is 14/sqrt(65): embedding
  // 6/sqrt(65), head 0 2/sqrt(65), head 1 6/sqrt(65).
  const DirectLogitAttribution r = direct_logit_attribution(m, {0, 1, 2}, 2, std::nullopt, {2});
  ASSERT_EQ(r.positions, std::vector<int>{2});
  const double s = std::sqrt(65.0);
  EXPECT_NEAR(r.logit[0], 14 / s, 1e-5);
  EXPECT_NEAR(r.heads.at({0, 0, 0}), 2 / s, 1e-5);
  EXPECT_NEAR(r.heads.at({0, 0, 1}), 6 / s, 1e-5);
  EXPECT_NEAR(r.heads.at({0, 1, 0}), 0.0, 1e-7);
  EXPECT_NEAR(r.attribution.at({0, 0}), 6 / s, 1e-5);  // "embed"
  EXPECT_EQ(r.labels[0], "embed");
  EXPECT_EQ(r.labels[1], "L0H0");
  EXPECT_NEAR(sum_of(r.attribution, 0), r.logit[0], 1e-5);
  // A logit difference: token 2 minus token 3 (3's logit is 8/sqrt(65): embedding 0, heads 2 and
  // 6).
  const DirectLogitAttribution d = direct_logit_attribution(m, {0, 1, 2}, 2, 3, {-1});
  EXPECT_NEAR(d.logit[0], 6 / s, 1e-5);
  EXPECT_NEAR(d.heads.at({0, 0, 0}), 0.0, 1e-6);
  EXPECT_NEAR(d.attribution.at({0, 0}), 6 / s, 1e-5);
  EXPECT_THROW(direct_logit_attribution(m, {0, 1, 2}, 7), Error);
  EXPECT_THROW(direct_logit_attribution(m, {0, 1, 2}, 2, std::nullopt, {3}), Error);
  std::filesystem::remove(path);
}

// Every family: the parts add up to the final residual stream (and each layer's head parts to its
// hook_attn_out), so their logits add up to the model's. Gemma 2/3 and OLMo-2 put an RMSNorm on
// the attention output: the head parts there go through it with its scale frozen.
TEST(LogitAttribution, PartsAddUpToTheLogitOnRealModels) {
  std::vector<std::string> paths = {kStories, kGpt2,  // GPT-2: LayerNorm, position embeddings, biases
                                    "attnscope:toy"};
  for (const char* family : {"gemma", "gemma2", "gemma3", "gptneox", "mistral", "olmo2", "phi3", "qwen3"})
    paths.push_back(std::string(ATTNSCOPE_MODELS_DIR) + "/arch/" + family + "/model.gguf");
  for (const std::string& path : paths) {
    const Model model = Model::load(path);
    const Model* m = &model;
    std::vector<int32_t> ids = path == kGpt2 ? std::vector<int32_t>{20, 16, 3, 15, 10, 14, 3, 15}
                                             : m->encode("Once upon a time there was a cat. Once upon a time");
    RunOptions ro;
    ro.capture = resid_decomposition_hooks(*m);
    const int L = m->config().n_layer, H = m->config().n_head;
    for (int l = 0; l < L; ++l) ro.capture.push_back("blocks." + std::to_string(l) + ".hook_attn_out");
    const Trace t = m->run(ids, ro);
    const ResidStack rs = get_full_resid_decomposition(*m, t);
    const int64_t T = static_cast<int64_t>(ids.size()), D = m->config().n_embd;
    ASSERT_EQ(rs.stack.dim(1), T);
    // Each layer's head parts (and its bias) add up to what the layer added to the stream.
    for (int l = 0; l < L; ++l) {
      const Tensor& attn_out = t.at("blocks." + std::to_string(l) + ".hook_attn_out");
      std::vector<int64_t> rows;
      for (size_t c = 0; c < rs.labels.size(); ++c)
        if (rs.labels[c].rfind("L" + std::to_string(l) + "H", 0) == 0 ||
            rs.labels[c] == std::to_string(l) + "_attn_bias")
          rows.push_back(static_cast<int64_t>(c));
      ASSERT_GE(rows.size(), static_cast<size_t>(H));
      double worst = 0, scale = 0;
      for (int64_t p = 0; p < T; ++p)
        for (int64_t d = 0; d < D; ++d) {
          double s = 0;
          for (int64_t c : rows) s += rs.stack.data()[(c * T + p) * D + d];
          worst = std::max(worst, std::abs(s - attn_out.data()[p * D + d]));
          scale = std::max(scale, std::abs(static_cast<double>(attn_out.data()[p * D + d])));
        }
      EXPECT_LT(worst, 1e-5 * std::max(1.0, scale)) << path << " layer " << l;
    }
    // The parts add up to the final residual stream itself.
    const Tensor& x = t.at("blocks." + std::to_string(L - 1) + ".hook_resid_post");
    double worst = 0, scale = 0;
    for (int64_t p = 0; p < T; ++p)
      for (int64_t d = 0; d < D; ++d) {
        double s = 0;
        for (int64_t c = 0; c < rs.stack.dim(0); ++c) s += rs.stack.data()[(c * T + p) * D + d];
        worst = std::max(worst, std::abs(s - x.data()[p * D + d]));
        scale = std::max(scale, std::abs(static_cast<double>(x.data()[p * D + d])));
      }
    EXPECT_LT(worst, 1e-5 * std::max(10.0, scale)) << path;
    // Every position, a target and a difference: the attributions add up to the model's logit
    // (before the final soft-cap of Gemma 2, whose capped value must then be the forward pass's).
    std::vector<int> all;
    for (int p = 0; p < T; ++p) all.push_back(p);
    std::vector<double> raw[2];
    for (std::optional<int32_t> minus : {std::optional<int32_t>{}, std::optional<int32_t>{5}}) {
      const DirectLogitAttribution r = direct_logit_attribution(*m, ids, ids[3], minus, all);
      for (int64_t i = 0; i < T; ++i)
        EXPECT_NEAR(sum_of(r.attribution, i), r.logit[i], 1e-4 * std::max(1.0, std::abs(r.logit[i])))
            << path << " position " << i;
      raw[minus ? 1 : 0] = r.logit;
    }
    const float cap = m->config().final_softcap;
    const DirectLogitAttribution r5 = direct_logit_attribution(*m, ids, 5, std::nullopt, all);
    for (int64_t i = 0; i < T; ++i) {
      const float* row = t.logits.data() + i * t.logits.dim(2);
      auto capped = [&](double v) { return cap > 0 ? cap * std::tanh(v / cap) : v; };
      EXPECT_NEAR(capped(raw[0][i]), row[ids[3]], 1e-4) << path << " position " << i;
      EXPECT_NEAR(capped(r5.logit[i]), row[5], 1e-4) << path << " position " << i;
      EXPECT_NEAR(raw[1][i], raw[0][i] - r5.logit[i], 1e-4) << path << " position " << i;
    }
  }
}

// ---- composition --------------------------------------------------------------------------------

namespace {

// Dense second implementation: W_QK, W_OV as D x D matrices from the GGUF layout directly.
using Dense = std::vector<double>;
Dense dense_product(const Dense& a, const Dense& b, int D) {
  Dense c(static_cast<size_t>(D * D), 0.0);
  for (int i = 0; i < D; ++i)
    for (int k = 0; k < D; ++k)
      for (int j = 0; j < D; ++j) c[i * D + j] += a[i * D + k] * b[k * D + j];
  return c;
}
double frob(const Dense& a) {
  double s = 0;
  for (double v : a) s += v * v;
  return std::sqrt(s);
}
Dense transpose(const Dense& a, int D) {
  Dense t(a.size());
  for (int i = 0; i < D; ++i)
    for (int j = 0; j < D; ++j) t[j * D + i] = a[i * D + j];
  return t;
}
// Q/K/V composition of head A (W_OV ov_a) into head B (W_QK qk_b, W_OV ov_b), from the definition.
struct DenseScores {
  double q, k, v;
};
DenseScores dense_scores(const Dense& ov_a, const Dense& qk_b, const Dense& ov_b, int D) {
  const double qk = frob(ov_a) * frob(qk_b);
  return {frob(dense_product(ov_a, qk_b, D)) / qk, frob(dense_product(ov_a, transpose(qk_b, D), D)) / qk,
          frob(dense_product(ov_a, ov_b, D)) / (frob(ov_a) * frob(ov_b))};
}

}  // namespace

TEST(Composition, ClosedFormKCompositionThroughAFoldedNorm) {
  TinySpec s;
  // Layer 1 head 0: query reads dims 0,1; key (shared kv head) reads dims 1,2, one of which layer
  // 0 writes. Head 1 queries dims 2,3 instead.
  s.q1 = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  s.k1 = {0, 1, 0, 0, 0, 0, 1, 0};
  s.ln1 = {1, 1, 2, 1};  // folded: layer 1 reads dim 2 twice as strongly
  const std::string path = write_tiny(s, "comp");
  const Model m = Model::load(path);
  const CompositionScores c = composition_scores(m);
  ASSERT_EQ(c.k.shape(), (Shape{2, 2, 2, 2}));
  // OV of L0H0 maps e0 -> e2, e1 -> e3 (||OV|| = sqrt 2). With the norm folded, k = (x1, 2 x2), so
  // QK' of L1H0 maps e0 -> e1, e1 -> 2 e2 (||QK'|| = sqrt 5), and OV QK'^T maps e0 -> 2 e1:
  // 2 / (sqrt 2 sqrt 5) = sqrt(2/5). (Without the fold it would be 1 / (sqrt 2 sqrt 2) = 0.5.)
  EXPECT_NEAR(c.k.at({0, 0, 1, 0}), std::sqrt(0.4), 1e-6);
  // L0H1 writes the same directions three times as strongly: the score is scale-free.
  EXPECT_NEAR(c.k.at({0, 1, 1, 0}), std::sqrt(0.4), 1e-6);
  // Q-composition of head 0 is 0: its query reads dims 0,1, which layer 0 never writes.
  EXPECT_NEAR(c.q.at({0, 0, 1, 0}), 0.0, 1e-7);
  // Head 1's query is (2 x2, x3): QK' maps e2 -> 2 e1, e3 -> 2 e2 (||QK'|| = sqrt 8), OV QK' maps
  // e0 -> 2 e1, e1 -> 2 e2: sqrt 8 / (sqrt 2 sqrt 8) = 1/sqrt 2.
  EXPECT_NEAR(c.q.at({0, 0, 1, 1}), 1 / std::sqrt(2.0), 1e-6);
  // V-composition is 0 (layer 1's OV is zero), and nothing flows backwards or within a layer.
  EXPECT_EQ(c.v.at({0, 0, 1, 0}), 0.0f);
  EXPECT_EQ(c.k.at({1, 0, 0, 0}), 0.0f);
  EXPECT_EQ(c.k.at({0, 0, 0, 1}), 0.0f);
  const auto top = c.top_edges(2, CompositionKind::K, std::make_pair(1, 0));
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].dst_layer, 1);
  EXPECT_EQ(top[0].dst_head, 0);
  std::filesystem::remove(path);
}

TEST(Composition, FactoredScoresMatchDenseMatricesOnRandomGqaWeights) {
  TinySpec s;
  std::mt19937 g(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto* v : {&s.q1, &s.k1, &s.v1, &s.o1, &s.ln1})
    for (float& x : *v) x = u(g);
  const std::string path = write_tiny(s, "dense");
  const Model m = Model::load(path);
  const CompositionScores c = composition_scores(m);
  const int D = 4;
  // Dense W_QK / W_OV in row-vector orientation with the reading norm folded.
  auto dense = [&](int layer, int head, Dense* qk, Dense* ov) {
    const auto hw = detail::head_weights(m, layer, head);
    const auto ln = detail::attn_norm_weights(m, layer);
    qk->assign(D * D, 0.0);
    ov->assign(D * D, 0.0);
    for (int i = 0; i < D; ++i)
      for (int j = 0; j < D; ++j)
        for (int r = 0; r < 2; ++r) {
          (*qk)[i * D + j] += ln.w.data()[i] * hw.W_Q.at({i, r}) * ln.w.data()[j] * hw.W_K.at({j, r});
          (*ov)[i * D + j] += ln.w.data()[i] * hw.W_V.at({i, r}) * hw.W_O.at({r, j});
        }
  };
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) {
      Dense qk0, ov0, qk1, ov1;
      dense(0, a, &qk0, &ov0);
      dense(1, b, &qk1, &ov1);
      const DenseScores want = dense_scores(ov0, qk1, ov1, D);
      EXPECT_NEAR(c.q.at({0, a, 1, b}), want.q, 1e-5);
      EXPECT_NEAR(c.k.at({0, a, 1, b}), want.k, 1e-5);
      EXPECT_NEAR(c.v.at({0, a, 1, b}), want.v, 1e-5);
      EXPECT_GT(want.k, 0.01);
    }
  std::filesystem::remove(path);
}

// The families with more norms around attention, against dense D x D matrices built from the
// GGUF tensors directly: Qwen3 (q/k RMSNorm per head), OLMo-2 (no pre-norm, q/k RMSNorm across
// heads, post-attention norm), Gemma 2 (post-attention norm), Gemma 3 (both). Every norm weight
// folds in (a per-token scale drops out of the ratio).
TEST(Composition, NormsAroundAttentionFoldIntoTheDenseMatrices) {
  for (const char* family : {"qwen3", "olmo2", "gemma2", "gemma3"}) {
    const std::string path = std::string(ATTNSCOPE_MODELS_DIR) + "/arch/" + family + "/model.gguf";
    const Model m = Model::load(path);
    const CompositionScores c = composition_scores(m);
    const GgufFile f = GgufFile::open(path);
    const ModelConfig& mc = m.config();
    const int D = static_cast<int>(mc.n_embd), Dh = mc.head_dim, H = mc.n_head, G = H / mc.n_head_kv;
    auto tensor = [&](int l, const std::string& name) {
      const std::string full = "blk." + std::to_string(l) + "." + name;
      return f.find_tensor(full) ? f.load_tensor(full) : Tensor();
    };
    auto at = [](const Tensor& t, int64_t i, float none) { return t.empty() ? none : t.data()[i]; };
    auto dense = [&](int l, int h, Dense* qk, Dense* ov) {
      const Tensor wq = tensor(l, "attn_q.weight"), wk = tensor(l, "attn_k.weight"), wv = tensor(l, "attn_v.weight"),
                   wo = tensor(l, "attn_output.weight");
      const Tensor ln = tensor(l, "attn_norm.weight"), qn = tensor(l, "attn_q_norm.weight"),
                   kn = tensor(l, "attn_k_norm.weight"), post = tensor(l, "post_attention_norm.weight");
      const int kv = h / G;
      const bool per_head = qn.empty() || qn.numel() == Dh;
      qk->assign(static_cast<size_t>(D * D), 0.0);
      ov->assign(static_cast<size_t>(D * D), 0.0);
      for (int r = 0; r < Dh; ++r) {
        const double wqr = at(qn, per_head ? r : h * Dh + r, 1), wkr = at(kn, per_head ? r : kv * Dh + r, 1);
        for (int i = 0; i < D; ++i)
          for (int j = 0; j < D; ++j) {
            const double li = at(ln, i, 1), lj = at(ln, j, 1);
            (*qk)[i * D + j] += li * wq.at({h * Dh + r, i}) * wqr * lj * wk.at({kv * Dh + r, j}) * wkr;
            (*ov)[i * D + j] += li * wv.at({kv * Dh + r, i}) * wo.at({j, h * Dh + r}) * at(post, j, 1);
          }
      }
    };
    for (int a = 0; a < H; ++a)
      for (int b = 0; b < H; b += 3) {
        Dense qk0, ov0, qk1, ov1;
        dense(0, a, &qk0, &ov0);
        dense(1, b, &qk1, &ov1);
        const DenseScores want = dense_scores(ov0, qk1, ov1, D);
        EXPECT_NEAR(c.q.at({0, a, 1, b}), want.q, 1e-5) << family << " L0H" << a << " -> L1H" << b;
        EXPECT_NEAR(c.k.at({0, a, 1, b}), want.k, 1e-5) << family << " L0H" << a << " -> L1H" << b;
        EXPECT_NEAR(c.v.at({0, a, 1, b}), want.v, 1e-5) << family << " L0H" << a << " -> L1H" << b;
      }
  }
}

// ---- rollout and flow
// -----------------------------------------------------------------------------

TEST(Rollout, ClosedFormOnTwoTokens) {
  // Uniform causal heads on 2 tokens: A = [[1, 0], [.5, .5]], A~ = [[1, 0], [.25, .75]].
  Tensor a({1, 2, 2, 2}, {1, 0, 0.5f, 0.5f, 1, 0, 0.5f, 0.5f});
  std::map<int, Tensor> one = {{0, a}}, two = {{0, a}, {1, a}};
  const Tensor r = attention_rollout(two);
  ASSERT_EQ(r.shape(), (Shape{2, 2, 2}));
  EXPECT_NEAR(r.at({0, 1, 0}), 0.25, 1e-7);
  EXPECT_NEAR(r.at({1, 1, 0}), 0.4375, 1e-7);  // A~ A~
  EXPECT_NEAR(r.at({1, 1, 1}), 0.5625, 1e-7);
  EXPECT_NEAR(r.at({1, 0, 0}), 1.0, 1e-7);
  // Flow, one layer: the edge capacities themselves.
  const Tensor f1 = attention_flow(one, {1});
  EXPECT_NEAR(f1.at({0, 0}), 0.25, 1e-9);
  EXPECT_NEAR(f1.at({0, 1}), 0.75, 1e-9);
  // Two layers: into token 0 through (1,0) (.25) and through (1,1) then its .25 edge: 0.5;
  // into token 1 only along .75 -> .75. Rollout says .4375 and .5625 instead.
  const Tensor f2 = attention_flow(two, {});
  EXPECT_NEAR(f2.at({1, 0}), 0.5, 1e-9);
  EXPECT_NEAR(f2.at({1, 1}), 0.75, 1e-9);
  EXPECT_NEAR(f2.at({0, 0}), 1.0, 1e-9);
  EXPECT_EQ(f2.at({0, 1}), 0.0f);
  EXPECT_THROW(attention_rollout({{1, a}}), Error);  // layer 0 missing
  EXPECT_THROW(attention_flow(two, {2}), Error);
}

// ---- the toy model's circuit
// -----------------------------------------------------------------------

TEST(ToyCircuit, PreviousTokenHeadIsTheTopKCompositionEdgeIntoTheInductionHead) {
  const Model m = Model::load("attnscope:toy");
  const CompositionScores c = composition_scores(m);
  const auto into = c.top_edges(3, std::nullopt, std::make_pair(1, 0));
  ASSERT_FALSE(into.empty());
  EXPECT_EQ(into[0].kind, CompositionKind::K);
  EXPECT_EQ(into[0].src_layer, 0);
  EXPECT_EQ(into[0].src_head, 0);
  // The induction key is 40 [t_i = t_{j-1}] + 16 [t_{i-1} = t_{j-2}]: the previous-token head
  // feeds the 40 part, the two-back head the 16 part. Each is a 51-dimensional identity map
  // (TOK -> PREV, PREV -> TOK in the key), so ||OV QK^T|| / (||OV|| ||QK||) = 40 / (sqrt(51)
  // sqrt(40^2 + 16^2)), and 16 / ... for L0H1 (the query reads PREV with 16 too: that is
  // L0H0's Q-composition).
  const double n = std::sqrt(51.0) * std::sqrt(40.0 * 40 + 16 * 16);
  EXPECT_NEAR(c.k.at({0, 0, 1, 0}), 40 / n, 1e-4);
  EXPECT_NEAR(c.k.at({0, 1, 1, 0}), 16 / n, 1e-4);
  EXPECT_NEAR(c.q.at({0, 0, 1, 0}), 16 / n, 1e-4);
  // The sink and current-token heads write nothing: they compose with nothing.
  EXPECT_EQ(c.k.at({0, 2, 1, 0}), 0.0f);
  EXPECT_EQ(c.k.at({0, 3, 1, 0}), 0.0f);
}

TEST(ToyCircuit, InductionHeadHasTheLargestDirectAttributionToTheCopiedToken) {
  const Model m = Model::load("attnscope:toy");
  const std::vector<int32_t> seq = random_repeated_tokens(random_token_pool(m), 1, 20, 2, 3);
  // At each position of the second copy the next token is the copy's; L1H0 predicts it.
  for (int p : {25, 30, 38}) {
    const int32_t next = seq[static_cast<size_t>(p) + 1];
    const DirectLogitAttribution r = direct_logit_attribution(m, seq, next, std::nullopt, {p});
    int best = -1;
    double best_v = -1e30;
    for (int64_t k = 0; k < r.attribution.dim(1); ++k)
      if (r.attribution.at({0, k}) > best_v) {
        best_v = r.attribution.at({0, k});
        best = static_cast<int>(k);
      }
    EXPECT_EQ(r.labels[static_cast<size_t>(best)], "L1H0") << "position " << p;
    EXPECT_GT(r.heads.at({0, 1, 0}), 1.0);
    EXPECT_NEAR(sum_of(r.attribution, 0), r.logit[0], 1e-4);
  }
}

TEST(ToyCircuit, SinkHeadIsFlaggedAndMovesNothing) {
  const Model m = Model::load("attnscope:toy");
  const HeadTypeReport r = detect_head_types(m, "The cat sat on the mat. The cat sat");
  for (const auto& h : r.heads) {
    ASSERT_TRUE(h.value_first_token.has_value());
    EXPECT_EQ(h.sink, h.layer == 0 && h.head == 2) << "L" << h.layer << "H" << h.head;
  }
  // Scored on value-weighted patterns the sink is no first-token head; the heads that move
  // something keep their types.
  AttentionPatternDetector det;
  det.weighting = AttentionWeighting::Value;
  const HeadTypeReport v = detect_head_types(m, "The cat sat on the mat. The cat sat", det);
  EXPECT_TRUE(v.heads_of(kFirstToken).empty());
  EXPECT_EQ(v.heads_of(kPreviousToken), (std::vector<std::pair<int, int>>{{0, 0}}));
  EXPECT_EQ(v.heads_of(kInduction), (std::vector<std::pair<int, int>>{{1, 0}}));
}
