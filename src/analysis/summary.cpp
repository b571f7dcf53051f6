// Layer summaries: mean and max over heads, and how spread out each head's attention is.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "analysis/scores_detail.h"
#include "attnscope/analysis.h"
#include "attnscope/error.h"

namespace attnscope {

namespace {
double row_entropy(const float* row, int64_t n) {
  double h = 0;
  for (int64_t j = 0; j < n; ++j)
    if (row[j] > 0) h -= static_cast<double>(row[j]) * std::log(static_cast<double>(row[j]));
  return h;
}
}  // namespace

double pattern_entropy(const Tensor& pattern) {
  const detail::PatternView v = detail::pattern_view(pattern, "pattern_entropy");
  if (!v.finite) return std::nan("");
  double sum = 0;
  for (int64_t r = 0; r < v.q; ++r) sum += row_entropy(v.data + r * v.k, v.k);
  return sum / static_cast<double>(v.q);
}

double normalized_pattern_entropy(const Tensor& pattern) {
  const detail::PatternView v = detail::pattern_view(pattern, "normalized_pattern_entropy");
  if (!v.finite) return std::nan("");
  double sum = 0;
  int64_t rows = 0;
  for (int64_t r = 0; r < v.q; ++r) {
    const int64_t p = r + v.offset;
    if (p == 0) continue;  // one choice: no spread to measure
    sum += row_entropy(v.data + r * v.k, v.k) / std::log(static_cast<double>(p + 1));
    ++rows;
  }
  return rows ? sum / static_cast<double>(rows) : 0.0;
}

LayerSummary layer_attention_summary(const Tensor& patterns, int layer, int batch) {
  Tensor t = patterns;
  if (t.ndim() == 4) {
    if (batch < 0 || batch >= t.dim(0))
      fail(ErrorKind::InvalidArgument,
           "layer_attention_summary: batch " + std::to_string(batch) + " outside " + t.shape_str());
    t = t.slice0(batch);
  } else if (t.ndim() != 3) {
    fail(ErrorKind::InvalidArgument,
         "layer_attention_summary: expected [B, H, Q, K] or [H, Q, K], got " + t.shape_str());
  }
  const int64_t heads = t.dim(0), q = t.dim(1), k = t.dim(2);
  if (heads < 1 || q < 1 || k < 1)
    fail(ErrorKind::InvalidArgument, "layer_attention_summary: empty patterns " + t.shape_str());
  LayerSummary s;
  s.layer = layer;
  s.mean = Tensor({q, k});
  s.max = Tensor({q, k});
  float* mean = s.mean.data();
  float* mx = s.max.data();
  std::fill(mx, mx + q * k, -std::numeric_limits<float>::infinity());
  for (int64_t h = 0; h < heads; ++h) {
    const Tensor a = t.slice0(h);
    const float* d = a.data();
    for (int64_t i = 0; i < q * k; ++i) {
      mean[i] += d[i] / static_cast<float>(heads);
      mx[i] = std::max(mx[i], d[i]);
    }
    s.entropy.push_back(pattern_entropy(a));
    s.norm_entropy.push_back(normalized_pattern_entropy(a));
  }
  return s;
}

std::vector<LayerSummary> layer_attention_summaries(const std::map<int, Tensor>& patterns, int batch) {
  std::vector<LayerSummary> out;
  for (const auto& [layer, t] : patterns) out.push_back(layer_attention_summary(t, layer, batch));
  return out;
}

}  // namespace attnscope
