// Value-weighted attention (Kobayashi et al. 2020): ||alpha_ij v_j W_O^h|| from the pattern and
// hook_v of one forward pass (see attribution.h).
#include <cmath>
#include <string>

#include "analysis/run_detail.h"
#include "attnscope/attribution.h"
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "model/head_weights.h"
#include "tensor/ops.h"
#include "tensor/threading.h"

namespace attnscope {

namespace {

// ||v_j W_O^h|| for every batch row, head and key: [B, H, K] from hook_v [B, K, Hkv, Dh].
Tensor norms_of_layer(const Model& model, int layer, const Tensor& v) {
  const ModelConfig& c = model.config();
  if (v.ndim() != 4 || v.dim(2) <= 0 || c.n_head % v.dim(2) != 0 || v.dim(3) != c.head_dim)
    fail(ErrorKind::InvalidArgument, hook_name(HookPoint::AttnV, layer) + " has shape " + v.shape_str() +
                                         ", expected [B, T, " + std::to_string(c.n_head_kv) + ", " +
                                         std::to_string(c.head_dim) + "]");
  const int64_t B = v.dim(0), K = v.dim(1), Hkv = v.dim(2), Dh = v.dim(3), H = c.n_head, D = c.n_embd;
  const Tensor& wo = detail::attn_output_matrix(model, layer);         // [D, H*Dh]
  const Tensor post = detail::post_attn_norm_weights(model, layer).w;  // empty: none
  Tensor norms({B, H, K});
  Tensor vh({B * K, Dh}), wo_h({D, Dh}), f({B * K, D});
  for (int64_t h = 0; h < H; ++h) {
    const int64_t kvh = h / (H / Hkv);
    for (int64_t n = 0; n < B * K; ++n)
      for (int64_t r = 0; r < Dh; ++r) vh.data()[n * Dh + r] = v.data()[(n * Hkv + kvh) * Dh + r];
    for (int64_t d = 0; d < D; ++d)
      for (int64_t r = 0; r < Dh; ++r) wo_h.data()[d * Dh + r] = wo.data()[d * H * Dh + h * Dh + r];
    ops::linear(vh.data(), B * K, Dh, wo_h.data(), D, nullptr, f.data());
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < K; ++j) {
        const float* row = f.data() + (b * K + j) * D;
        double ss = 0;
        for (int64_t d = 0; d < D; ++d) {
          const double x = static_cast<double>(row[d]) * (post.empty() ? 1.0f : post.data()[d]);
          ss += x * x;
        }
        norms.data()[(b * H + h) * K + j] = static_cast<float>(std::sqrt(ss));
      }
  }
  return norms;
}

// A post-attention RMSNorm's frozen scale 1/rms(x_bi) of every batch row and query, x being the
// layer's attention output before the norm (hook_z W_O + b_O): [B * Q].
std::vector<double> post_norm_scales(const Model& model, int layer, const Tensor& z) {
  const ModelConfig& c = model.config();
  const Tensor& wo = detail::attn_output_matrix(model, layer);  // [D, H*Dh]
  const int64_t D = wo.dim(0), HD = wo.dim(1);
  if (z.ndim() != 4 || z.dim(2) * z.dim(3) != HD)
    fail(ErrorKind::InvalidArgument, hook_name(HookPoint::AttnZ, layer) + " has shape " + z.shape_str() +
                                         ", expected [B, T, " + std::to_string(c.n_head) + ", " +
                                         std::to_string(c.head_dim) + "]");
  const int64_t N = z.dim(0) * z.dim(1);
  const Tensor bias = detail::attn_out_bias(model, layer);
  Tensor x({N, D});
  ops::linear(z.data(), N, HD, wo.data(), D, bias.empty() ? nullptr : bias.data(), x.data());
  std::vector<double> scale(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    double ss = 0;
    for (int64_t d = 0; d < D; ++d) ss += static_cast<double>(x.data()[n * D + d]) * x.data()[n * D + d];
    scale[static_cast<size_t>(n)] = 1.0 / std::sqrt(ss / static_cast<double>(D) + c.norm_eps);
  }
  return scale;
}

bool has_post_norm(const Model& model, int layer) { return !detail::post_attn_norm_weights(model, layer).w.empty(); }

}  // namespace

std::vector<std::string> value_weighted_hooks(const Model& model, const std::vector<int>& layers) {
  std::vector<std::string> out;
  for (int l : detail::checked_layers(model, layers, "value_weighted_patterns")) {
    out.push_back(hook_name(HookPoint::AttnPattern, l));
    out.push_back(hook_name(HookPoint::AttnV, l));
    if (has_post_norm(model, l)) out.push_back(hook_name(HookPoint::AttnZ, l));
  }
  return out;
}

std::map<int, Tensor> value_vector_norms(const Model& model, const Trace& trace) {
  const ops::RunThreads threads(model.threads());  // the model's count, as its runs use
  std::map<int, Tensor> out;
  for (int l = 0; l < model.config().n_layer; ++l)
    if (trace.has(hook_name(HookPoint::AttnV, l)))
      out.emplace(l, norms_of_layer(model, l, trace.at(hook_name(HookPoint::AttnV, l))));
  if (out.empty())
    fail(ErrorKind::NotFound,
         "value-weighted attention needs blocks.L.attn.hook_v in the trace; capture it "
         "together with blocks.L.attn.hook_pattern");
  return out;
}

std::map<int, Tensor> value_weighted_patterns(const Model& model, const Trace& trace, bool normalized) {
  const ops::RunThreads threads(model.threads());
  std::map<int, Tensor> out;
  for (const auto& [l, norms] : value_vector_norms(model, trace)) {
    const Tensor& a = trace.at(hook_name(HookPoint::AttnPattern, l));  // NotFound names it when missing
    const int64_t B = a.dim(0), H = a.dim(1), Q = a.dim(2), K = a.dim(3);
    if (a.ndim() != 4 || norms.dim(0) != B || norms.dim(1) != H || norms.dim(2) != K)
      fail(ErrorKind::InvalidArgument, hook_name(HookPoint::AttnPattern, l) + " " + a.shape_str() + " does not match " +
                                           hook_name(HookPoint::AttnV, l) + " (norms " + norms.shape_str() + ")");
    std::vector<double> scale;  // per (b, i); empty: no post-attention norm
    if (has_post_norm(model, l)) {
      scale = post_norm_scales(model, l, trace.at(hook_name(HookPoint::AttnZ, l)));
      if (scale.size() != static_cast<size_t>(B * Q))
        fail(ErrorKind::InvalidArgument, hook_name(HookPoint::AttnZ, l) + " does not match " +
                                             hook_name(HookPoint::AttnPattern, l) + " " + a.shape_str());
    }
    Tensor w({B, H, Q, K});
    for (int64_t bh = 0; bh < B * H; ++bh)
      for (int64_t i = 0; i < Q; ++i) {
        const float* arow = a.data() + (bh * Q + i) * K;
        float* wrow = w.data() + (bh * Q + i) * K;
        const double s = scale.empty() ? 1.0 : scale[static_cast<size_t>((bh / H) * Q + i)];
        double sum = 0;
        for (int64_t j = 0; j < K; ++j) {
          wrow[j] = static_cast<float>(arow[j] * norms.data()[bh * K + j] * s);
          sum += wrow[j];
        }
        if (normalized && sum > 0)
          for (int64_t j = 0; j < K; ++j) wrow[j] = static_cast<float>(wrow[j] / sum);
      }
    out.emplace(l, std::move(w));
  }
  return out;
}

std::map<int, Tensor> value_weighted_patterns(const Model& model, const std::vector<int32_t>& ids, bool normalized,
                                              const std::vector<int>& layers) {
  RunOptions ro;
  ro.capture = value_weighted_hooks(model, layers);
  ro.return_logits = false;
  return value_weighted_patterns(model, model.run(ids, ro), normalized);
}

}  // namespace attnscope
