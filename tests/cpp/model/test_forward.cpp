// The Llama forward pass against a plain reference written here (naive loops, own RoPE), and the
// invariants of the captured attention patterns on the trained stories260K model.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"

using namespace attnscope;

namespace {

const std::string kStories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";
const std::vector<int32_t> kIds = {1, 403, 407, 261, 378, 285, 261, 291, 380, 400, 266, 322, 295};

// y[o] = sum_i W[o][i] x[i] with W row-major [out, in].
std::vector<float> matvec(const Tensor& W, const std::vector<float>& x) {
  const int64_t out = W.dim(0), in = W.dim(1);
  std::vector<float> y(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    double s = 0;
    for (int64_t i = 0; i < in; ++i) s += static_cast<double>(W.data()[o * in + i]) * x[i];
    y[o] = static_cast<float>(s);
  }
  return y;
}

std::vector<float> rmsnorm(const std::vector<float>& x, const Tensor& w, double eps) {
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double r = 1.0 / std::sqrt(ss / x.size() + eps);
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = static_cast<float>(x[i] * r * w.data()[i]);
  return y;
}

// llama.cpp's "normal" RoPE: rotate pairs (2i, 2i+1) of each head by pos * base^(-2i/dim).
void rope_interleaved(std::vector<float>& v, int heads, int hd, int pos, double base) {
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < hd / 2; ++i) {
      const double th = pos * std::pow(base, -2.0 * i / hd);
      float& a = v[h * hd + 2 * i];
      float& b = v[h * hd + 2 * i + 1];
      const double a0 = a, b0 = b;
      a = static_cast<float>(a0 * std::cos(th) - b0 * std::sin(th));
      b = static_cast<float>(a0 * std::sin(th) + b0 * std::cos(th));
    }
}

// Logits [T][V] for one sequence, token by token with explicit loops.
std::vector<std::vector<float>> reference_logits(const GgufFile& f, const std::vector<int32_t>& ids) {
  const int L = static_cast<int>(*f.get_int("llama.block_count"));
  const int D = static_cast<int>(*f.get_int("llama.embedding_length"));
  const int H = static_cast<int>(*f.get_int("llama.attention.head_count"));
  const int Hkv = static_cast<int>(*f.get_int("llama.attention.head_count_kv"));
  const int hd = D / H;
  const double eps = *f.get_float("llama.attention.layer_norm_rms_epsilon");
  const Tensor emb = f.load_tensor("token_embd.weight");
  const int T = static_cast<int>(ids.size());
  std::vector<std::vector<float>> x(T);
  for (int t = 0; t < T; ++t) x[t].assign(emb.data() + ids[t] * D, emb.data() + (ids[t] + 1) * D);
  for (int l = 0; l < L; ++l) {
    auto w = [&](const std::string& n) { return f.load_tensor("blk." + std::to_string(l) + "." + n + ".weight"); };
    const Tensor wq = w("attn_q"), wk = w("attn_k"), wv = w("attn_v"), wo = w("attn_output"), an = w("attn_norm");
    const Tensor fn = w("ffn_norm"), wg = w("ffn_gate"), wu = w("ffn_up"), wd = w("ffn_down");
    std::vector<std::vector<float>> q(T), k(T), v(T);
    for (int t = 0; t < T; ++t) {
      auto h = rmsnorm(x[t], an, eps);
      q[t] = matvec(wq, h);
      k[t] = matvec(wk, h);
      v[t] = matvec(wv, h);
      rope_interleaved(q[t], H, hd, t, 10000.0);
      rope_interleaved(k[t], Hkv, hd, t, 10000.0);
    }
    for (int t = 0; t < T; ++t) {
      std::vector<float> z(static_cast<size_t>(H * hd), 0.0f);
      for (int h = 0; h < H; ++h) {
        const int kvh = h / (H / Hkv);
        std::vector<double> s(t + 1);
        double mx = -1e300;
        for (int j = 0; j <= t; ++j) {
          double d = 0;
          for (int i = 0; i < hd; ++i) d += static_cast<double>(q[t][h * hd + i]) * k[j][kvh * hd + i];
          s[j] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j <= t; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int j = 0; j <= t; ++j)
          for (int i = 0; i < hd; ++i) z[h * hd + i] += static_cast<float>(s[j] / sum * v[j][kvh * hd + i]);
      }
      auto o = matvec(wo, z);
      for (int i = 0; i < D; ++i) x[t][i] += o[i];
      auto h = rmsnorm(x[t], fn, eps);
      auto g = matvec(wg, h), u = matvec(wu, h);
      for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(g[i] / (1.0 + std::exp(-g[i])) * u[i]);
      auto d = matvec(wd, g);
      for (int i = 0; i < D; ++i) x[t][i] += d[i];
    }
  }
  const Tensor on = f.load_tensor("output_norm.weight");
  const Tensor out = f.find_tensor("output.weight") ? f.load_tensor("output.weight") : emb;
  std::vector<std::vector<float>> logits(T);
  for (int t = 0; t < T; ++t) logits[t] = matvec(out, rmsnorm(x[t], on, eps));
  return logits;
}

}  // namespace

TEST(Forward, MatchesPlainReferenceOnStories260K) {
  GgufFile f = GgufFile::open(kStories);
  auto ref = reference_logits(f, kIds);
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
