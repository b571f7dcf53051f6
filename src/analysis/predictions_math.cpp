// Model-free prediction math: rows of logits, top-k, (log-)softmax, log-probs, logit differences.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "attnscope/error.h"
#include "attnscope/predictions.h"

namespace attnscope {

const float* row_at(const Tensor& t, int position, int batch) {
  if (t.ndim() < 1 || t.ndim() > 3 || t.empty())
    fail(ErrorKind::InvalidArgument, "expected a [X], [T, X] or [B, T, X] tensor, got " + t.shape_str());
  const int64_t X = t.dim(-1);
  if (t.ndim() == 1) return t.data();
  const int64_t T = t.dim(-2);
  const int64_t B = t.ndim() == 3 ? t.dim(0) : 1;
  const int64_t pos = position < 0 ? T + position : position;
  if (pos < 0 || pos >= T)
    fail(ErrorKind::InvalidArgument, "position " + std::to_string(position) + " out of range for " + t.shape_str());
  if (batch < 0 || batch >= B)
    fail(ErrorKind::InvalidArgument, "batch row " + std::to_string(batch) + " out of range for " + t.shape_str());
  return t.data() + (static_cast<int64_t>(batch) * T + pos) * X;
}

namespace {

// log(sum(exp(x))) of one row, stable.
double log_sum_exp(const float* x, int64_t n) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) return std::nan("");  // a NaN logit makes every probability NaN
    mx = std::max(mx, x[i]);
  }
  if (!std::isfinite(mx)) return mx;
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - mx);
  return mx + std::log(s);
}

void check_token(int32_t token, int64_t n_vocab) {
  if (token < 0 || token >= n_vocab)
    fail(ErrorKind::InvalidArgument,
         "token id " + std::to_string(token) + " out of range (vocabulary of " + std::to_string(n_vocab) + ")");
}

}  // namespace

std::vector<TokenPrediction> top_k_logits(const float* logits, int64_t n_vocab, int top_k, bool return_scores) {
  if (top_k <= 0) fail(ErrorKind::InvalidArgument, "top_k must be >= 1, got " + std::to_string(top_k));
  const int64_t k = std::min<int64_t>(top_k, n_vocab);
  std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
  std::iota(ids.begin(), ids.end(), 0);
  // NaN logits sort last so they never hide real predictions.
  auto better = [logits](int32_t a, int32_t b) {
    float x = logits[a], y = logits[b];
    if (std::isnan(x) != std::isnan(y)) return std::isnan(y);
    if (x != y) return x > y;
    return a < b;
  };
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), better);
  const double lse = return_scores ? log_sum_exp(logits, n_vocab) : 0.0;
  std::vector<TokenPrediction> out;
  for (int64_t i = 0; i < k; ++i) {
    TokenPrediction p;
    p.id = ids[static_cast<size_t>(i)];
    if (return_scores) {
      p.score = logits[p.id];
      p.logprob = static_cast<float>(logits[p.id] - lse);
    }
    out.push_back(std::move(p));
  }
  return out;
}

Tensor log_softmax_rows(const Tensor& logits) {
  if (logits.ndim() < 1 || logits.empty()) fail(ErrorKind::InvalidArgument, "log_softmax of an empty tensor");
  Tensor out(logits.shape());
  const int64_t V = logits.dim(-1), rows = logits.numel() / V;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits.data() + r * V;
    const double lse = log_sum_exp(x, V);
    float* y = out.data() + r * V;
    for (int64_t i = 0; i < V; ++i) y[i] = static_cast<float>(x[i] - lse);
  }
  return out;
}

Tensor softmax_rows(const Tensor& logits) {
  Tensor out = log_softmax_rows(logits);
  float* p = out.data();
  for (int64_t i = 0, n = out.numel(); i < n; ++i) p[i] = std::exp(p[i]);
  return out;
}

float token_logprob(const Tensor& logits, int32_t token, int position, int batch) {
  const float* row = row_at(logits, position, batch);
  const int64_t V = logits.dim(-1);
  check_token(token, V);
  return static_cast<float>(row[token] - log_sum_exp(row, V));
}

float logit_diff(const Tensor& logits, int32_t a, int32_t b, int position, int batch) {
  const float* row = row_at(logits, position, batch);
  check_token(a, logits.dim(-1));
  check_token(b, logits.dim(-1));
  return row[a] - row[b];
}

}  // namespace attnscope
