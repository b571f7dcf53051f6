#include "model/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "attnscope/error.h"

namespace attnscope::detail {

TokenSampler::TokenSampler(const GenerateOptions& o)
    : temperature_(o.temperature), top_k_(o.top_k), top_p_(o.top_p), rng_{o.seed} {
  if (!std::isfinite(o.temperature) || o.temperature < 0)
    fail(ErrorKind::InvalidArgument, "temperature must be a finite number >= 0, got " + std::to_string(o.temperature));
  if (o.top_k < 0) fail(ErrorKind::InvalidArgument, "top_k must be >= 0 (0: no limit), got " + std::to_string(o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1))
    fail(ErrorKind::InvalidArgument, "top_p must lie in (0, 1] (1: no limit), got " + std::to_string(o.top_p));
  greedy_ = o.temperature == 0 || o.top_k == 1;
}

int32_t TokenSampler::next(const float* logits, int64_t n) {
  // Candidates, best first (ties: lower id first, as greedy decoding does); NaNs dropped.
  std::vector<int32_t> ids;
  ids.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    if (!std::isnan(logits[i])) ids.push_back(static_cast<int32_t>(i));
  if (ids.empty()) fail(ErrorKind::InvalidArgument, "cannot choose a token: every logit is NaN");
  auto better = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  if (greedy_) return *std::min_element(ids.begin(), ids.end(), better);
  size_t keep = ids.size();
  if (top_k_ > 0 && static_cast<size_t>(top_k_) < keep) keep = static_cast<size_t>(top_k_);
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep), ids.end(), better);
  ids.resize(keep);

  // Softmax of logits / T in double, relative to the best logit (exp(0) = 1 keeps the sum > 0).
  std::vector<double> p(keep);
  const double top = logits[ids[0]];
  double total = 0;
  for (size_t i = 0; i < keep; ++i)
    total += p[i] = std::exp((static_cast<double>(logits[ids[i]]) - top) / temperature_);
  if (top_p_ < 1) {
    double cum = 0;
    size_t k = 0;
    while (k < keep) {
      cum += p[k++];
      if (cum >= top_p_ * total) break;
    }
    keep = k;
    total = cum;
  }
  const double u = rng_.uniform() * total;
  double cum = 0;
  for (size_t i = 0; i < keep; ++i) {
    cum += p[i];
    if (u < cum) return ids[i];
  }
  return ids[keep - 1];  // u within rounding of the total
}

}  // namespace attnscope::detail
