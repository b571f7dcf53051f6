// Composition scores between heads (Elhage et al. 2021; see attribution.h), computed from the
// low-rank factors: W_OV^A M^B = A_L (A_R B_L) B_R with d_head-sized inner matrices, so
// ||W_OV^A M^B||_F^2 = tr(G_A X G_B X^T) with X = A_R B_L, G_A = A_L^T A_L, G_B = B_R B_R^T
// (every matrix d_head x d_head): no d_model x d_model product is formed.
#include <algorithm>
#include <cmath>
#include <string>

#include "attnscope/attribution.h"
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "model/head_weights.h"
#include "tensor/ops.h"
#include "tensor/threading.h"

namespace attnscope {

namespace {

using Gram = std::vector<double>;  // Dh x Dh, row-major

// Rows of the transposed factor: t[r, d] = w[d, r] for w [D, Dh].
void put_transposed(const Tensor& w, float* dst) {
  const int64_t D = w.dim(0), Dh = w.dim(1);
  for (int64_t d = 0; d < D; ++d)
    for (int64_t r = 0; r < Dh; ++r) dst[r * D + d] = w.data()[d * Dh + r];
}

// a a^T of Dh rows of length D (a row-major [Dh, D]).
Gram gram_rows(const float* a, int64_t Dh, int64_t D) {
  Gram g(static_cast<size_t>(Dh * Dh));
  for (int64_t i = 0; i < Dh; ++i)
    for (int64_t j = i; j < Dh; ++j) {
      double s = 0;
      for (int64_t d = 0; d < D; ++d) s += static_cast<double>(a[i * D + d]) * a[j * D + d];
      g[i * Dh + j] = g[j * Dh + i] = s;
    }
  return g;
}

double frob_dot(const Gram& a, const Gram& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Folded weights of one layer, every head stacked: rows (h, r) of length D.
struct LayerFactors {
  Tensor q_t, k_t, v_t, o;           // [H*Dh, D]: W_Q'^T, W_K'^T, W_V'^T, W_O' per head
  std::vector<Gram> gq, gk, gv, go;  // per head: W_Q'^T W_Q', ..., W_O' W_O'^T
};

LayerFactors layer_factors(const Model& model, int layer) {
  const ModelConfig& c = model.config();
  const int64_t H = c.n_head, Dh = c.head_dim, D = c.n_embd;
  const detail::NormWeights ln = detail::attn_norm_weights(model, layer);
  const Tensor post = detail::post_attn_norm_weights(model, layer).w;  // empty: none
  // The output projection, decoded once for all the heads (and freed on return).
  const Tensor wo = detail::attn_output_matrix(model, layer);
  const bool center = c.norm == NormKind::LayerNorm;
  LayerFactors f;
  for (Tensor* t : {&f.q_t, &f.k_t, &f.v_t, &f.o}) *t = Tensor({H * Dh, D});
  for (int64_t h = 0; h < H; ++h) {
    const detail::HeadWeights hw = detail::head_weights(model, layer, static_cast<int>(h), wo);
    float* q = f.q_t.data() + h * Dh * D;
    float* k = f.k_t.data() + h * Dh * D;
    float* v = f.v_t.data() + h * Dh * D;
    float* o = f.o.data() + h * Dh * D;
    put_transposed(hw.W_Q, q);
    put_transposed(hw.W_K, k);
    put_transposed(hw.W_V, v);
    std::copy(hw.W_O.data(), hw.W_O.data() + Dh * D, o);
    for (int64_t r = 0; r < Dh; ++r) {
      // Fold the norms' weights: the reading norm's W <- diag(w_ln) W, the q/k norms' (after the
      // projection) W_Q <- W_Q diag(w_q), W_K <- W_K diag(w_k), the post-attention norm's
      // W_O <- W_O diag(w_post).
      const float wq = hw.q_norm.empty() ? 1.0f : hw.q_norm.data()[r];
      const float wk = hw.k_norm.empty() ? 1.0f : hw.k_norm.data()[r];
      for (int64_t d = 0; d < D; ++d) {
        const float w = ln.w.data()[d];
        q[r * D + d] *= w * wq;
        k[r * D + d] *= w * wk;
        v[r * D + d] *= w;
        if (!post.empty()) o[r * D + d] *= post.data()[d];
      }
      if (center) {  // LayerNorm removes the mean of what is written: centre W_O's rows
        double mean = 0;
        for (int64_t d = 0; d < D; ++d) mean += o[r * D + d];
        mean /= static_cast<double>(D);
        for (int64_t d = 0; d < D; ++d) o[r * D + d] = static_cast<float>(o[r * D + d] - mean);
      }
    }
    f.gq.push_back(gram_rows(q, Dh, D));
    f.gk.push_back(gram_rows(k, Dh, D));
    f.gv.push_back(gram_rows(v, Dh, D));
    f.go.push_back(gram_rows(o, Dh, D));
  }
  return f;
}

// tr(G_A X G_B X^T) for X = block (a, b) of the [H*Dh, H*Dh] matrix `all`.
double trace_form(const Gram& ga, const float* all, int64_t a, int64_t b, const Gram& gb, int64_t H, int64_t Dh) {
  const int64_t ld = H * Dh;
  std::vector<double> x(static_cast<size_t>(Dh * Dh)), gx(static_cast<size_t>(Dh * Dh), 0.0);
  for (int64_t i = 0; i < Dh; ++i)
    for (int64_t j = 0; j < Dh; ++j) x[i * Dh + j] = all[(a * Dh + i) * ld + b * Dh + j];
  for (int64_t i = 0; i < Dh; ++i)  // gx = G_A X
    for (int64_t m = 0; m < Dh; ++m) {
      const double g = ga[i * Dh + m];
      if (g == 0) continue;
      for (int64_t j = 0; j < Dh; ++j) gx[i * Dh + j] += g * x[m * Dh + j];
    }
  double s = 0;  // sum of (G_A X G_B) o X
  for (int64_t i = 0; i < Dh; ++i)
    for (int64_t j = 0; j < Dh; ++j) {
      const double xij = x[i * Dh + j];
      if (xij == 0) continue;
      double t = 0;
      for (int64_t m = 0; m < Dh; ++m) t += gx[i * Dh + m] * gb[m * Dh + j];
      s += t * xij;
    }
  return s;
}

}  // namespace

const char* composition_kind_name(CompositionKind kind) {
  switch (kind) {
    case CompositionKind::Q:
      return "Q";
    case CompositionKind::K:
      return "K";
    case CompositionKind::V:
      return "V";
  }
  return "?";
}

CompositionScores composition_scores(const Model& model) {
  const ops::RunThreads threads(model.threads());  // the model's count, as its runs use
  const ModelConfig& c = model.config();
  const int64_t L = c.n_layer, H = c.n_head, Dh = c.head_dim, D = c.n_embd;
  auto ov_norms = [&](const LayerFactors& f) {
    std::vector<double> n(static_cast<size_t>(H));
    for (int64_t a = 0; a < H; ++a) n[a] = std::sqrt(std::max(0.0, frob_dot(f.gv[a], f.go[a])));
    return n;
  };
  // Layers in order, each the later layer of its pairs with every earlier one: its readers (q_t,
  // k_t, v_t) are dropped once its pairs are done, and only the earlier layers' o and Gram
  // matrices are kept (o: the size of the model's output projections in float32, 270 MB for a 1B
  // model). Keeping all four factors of every layer would hold 4x that, more with grouped kv
  // heads: 1.1 GB for a 1B model, 8.6 GB for an 8B one.
  std::vector<LayerFactors> f;
  std::vector<std::vector<double>> ov_norm;
  f.reserve(static_cast<size_t>(L));
  ov_norm.reserve(static_cast<size_t>(L));
  CompositionScores out{Tensor({L, H, L, H}), Tensor({L, H, L, H}), Tensor({L, H, L, H})};
  Tensor all({H * Dh, H * Dh});
  for (int64_t l2 = 0; l2 < L; ++l2) {
    f.push_back(layer_factors(model, static_cast<int>(l2)));
    ov_norm.push_back(ov_norms(f[l2]));
    std::vector<double> qk_norm(static_cast<size_t>(H));
    for (int64_t b = 0; b < H; ++b) qk_norm[b] = std::sqrt(std::max(0.0, frob_dot(f[l2].gq[b], f[l2].gk[b])));
    const std::vector<double>& ov2_norm = ov_norm[l2];
    for (int64_t l1 = 0; l1 < l2; ++l1) {
      struct Mode {
        Tensor* dst;
        const Tensor* reader;          // B_L^T rows of the later layer
        const std::vector<Gram>* g_b;  // B_R B_R^T
        const std::vector<double>* norm;
      };
      for (const Mode& m :
           {Mode{&out.q, &f[l2].q_t, &f[l2].gk, &qk_norm}, Mode{&out.k, &f[l2].k_t, &f[l2].gq, &qk_norm},
            Mode{&out.v, &f[l2].v_t, &f[l2].go, &ov2_norm}}) {
        // all[(a, i), (b, j)] = (W_O'^a B_L^b)[i, j] for every head pair of the two layers at once.
        ops::linear(f[l1].o.data(), H * Dh, D, m.reader->data(), H * Dh, nullptr, all.data());
        for (int64_t a = 0; a < H; ++a)
          for (int64_t b = 0; b < H; ++b) {
            const double denom = ov_norm[l1][a] * (*m.norm)[b];
            double score = 0;
            if (denom > 0)
              score = std::sqrt(std::max(0.0, trace_form(f[l1].gv[a], all.data(), a, b, (*m.g_b)[b], H, Dh))) / denom;
            m.dst->data()[((l1 * H + a) * L + l2) * H + b] = static_cast<float>(std::min(1.0, score));
          }
      }
    }
    f[l2].q_t = f[l2].k_t = f[l2].v_t = Tensor();  // read only as the later layer
  }
  return out;
}

Tensor all_composition_scores(const Model& model, CompositionKind kind) {
  CompositionScores s = composition_scores(model);
  return kind == CompositionKind::Q ? s.q : kind == CompositionKind::K ? s.k : s.v;
}

const Tensor& CompositionScores::of(CompositionKind kind) const {
  return kind == CompositionKind::Q ? q : kind == CompositionKind::K ? k : v;
}

std::vector<CompositionEdge> CompositionScores::top_edges(int n, std::optional<CompositionKind> kind,
                                                          std::optional<std::pair<int, int>> into,
                                                          std::optional<std::pair<int, int>> out_of) const {
  if (n < 0) fail(ErrorKind::InvalidArgument, "top_edges: n must be >= 0");
  std::vector<CompositionEdge> edges;
  if (q.ndim() != 4) return edges;
  const int L = static_cast<int>(q.dim(0)), H = static_cast<int>(q.dim(1));
  for (CompositionKind k : {CompositionKind::Q, CompositionKind::K, CompositionKind::V}) {
    if (kind && *kind != k) continue;
    const Tensor& t = of(k);
    for (int l1 = 0; l1 < L; ++l1)
      for (int a = 0; a < H; ++a) {
        if (out_of && *out_of != std::make_pair(l1, a)) continue;
        for (int l2 = l1 + 1; l2 < L; ++l2)
          for (int b = 0; b < H; ++b) {
            if (into && *into != std::make_pair(l2, b)) continue;
            edges.push_back({l1, a, l2, b, k, t.data()[((l1 * H + a) * L + l2) * H + b]});
          }
      }
  }
  std::stable_sort(edges.begin(), edges.end(),
                   [](const CompositionEdge& x, const CompositionEdge& y) { return x.score > y.score; });
  if (static_cast<int>(edges.size()) > n) edges.resize(static_cast<size_t>(n));
  return edges;
}

}  // namespace attnscope
