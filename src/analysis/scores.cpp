// The per-head pattern scores. Every score is "mean over rows R of the attention on targets
// T(p)"; one generic routine computes it together with the uniform causal head's value (row p
// puts 1/(p+1) on each target) so chance correction needs no second pattern.
#include <cmath>
#include <string>
#include <unordered_map>

#include "analysis/scores_detail.h"
#include "attnscope/analysis.h"
#include "attnscope/error.h"

namespace attnscope {

namespace detail {

PatternView pattern_view(const Tensor& pattern, const char* what) {
  if (pattern.ndim() != 2)
    fail(ErrorKind::InvalidArgument, std::string(what) + ": pattern must be 2-D [q, k], got " + pattern.shape_str());
  PatternView v;
  v.q = pattern.dim(0);
  v.k = pattern.dim(1);
  if (v.q < 1 || v.k < 1)
    fail(ErrorKind::InvalidArgument, std::string(what) + ": pattern " + pattern.shape_str() + " is empty");
  if (v.q > v.k)
    fail(ErrorKind::InvalidArgument, std::string(what) + ": pattern " + pattern.shape_str() +
                                         " has more queries than keys (expected a causal [q, k], q <= k)");
  v.offset = v.k - v.q;
  v.data = pattern.data();
  for (int64_t i = 0, n = v.q * v.k; i < n && v.finite; ++i) v.finite = std::isfinite(v.data[i]);
  return v;
}

double finish_score(const RowScore& acc, const ScoreOptions& options) {
  if (acc.non_finite) return std::nan("");
  if (acc.rows == 0) return 0.0;
  const double s = acc.sum / static_cast<double>(acc.rows);
  if (!options.chance_corrected) return s;
  const double u = acc.uniform / static_cast<double>(acc.rows);
  if (1.0 - u < 1e-12) return 0.0;
  return (s - u) / (1.0 - u);
}

}  // namespace detail

namespace {

using detail::PatternView;
using detail::RowScore;

// Rows with a single fixed target column per position; target(p) < 0 means "no such row".
template <class Target>
double single_target_score(const Tensor& pattern, const ScoreOptions& options, const char* what, bool allow_target0,
                           Target target) {
  const PatternView v = detail::pattern_view(pattern, what);
  RowScore acc;
  acc.non_finite = !v.finite;
  for (int64_t r = 0; r < v.q; ++r) {
    const int64_t p = r + v.offset;
    if (options.exclude_bos && p == 0) continue;
    const int64_t t = target(p);
    if (t < 0 || t > p) continue;
    if (options.exclude_bos && t == 0 && !allow_target0) continue;
    acc.sum += v.at(r, t);
    acc.uniform += 1.0 / static_cast<double>(p + 1);
    ++acc.rows;
  }
  return detail::finish_score(acc, options);
}

void check_tokens(const PatternView& v, const std::vector<int32_t>& tokens, const char* what) {
  if (static_cast<int64_t>(tokens.size()) != v.k)
    fail(ErrorKind::InvalidArgument, std::string(what) + ": " + std::to_string(tokens.size()) +
                                         " tokens for a pattern with " + std::to_string(v.k) + " keys");
}

// Rows whose targets are a set of earlier positions picked by the tokens. `shift` = 0: the
// earlier copies j of tokens[p] (duplicate); shift = 1: the positions j with tokens[j-1] ==
// tokens[p] (induction). Earlier occurrences are tracked with a map so this is O(K * copies).
double token_target_score(const Tensor& pattern, const std::vector<int32_t>& tokens, const ScoreOptions& options,
                          const char* what, int shift) {
  const PatternView v = detail::pattern_view(pattern, what);
  check_tokens(v, tokens, what);
  std::unordered_map<int32_t, std::vector<int64_t>> seen;  // token -> positions (of j - shift)
  RowScore acc;
  acc.non_finite = !v.finite;
  int64_t added = 0;  // positions 0..added-1 are in `seen`
  for (int64_t r = 0; r < v.q; ++r) {
    const int64_t p = r + v.offset;
    // Sources allowed for row p: positions m < p (m = j - shift, j = m + shift <= p).
    for (; added < p; ++added) {
      if (options.exclude_bos && added == 0) continue;
      seen[tokens[added]].push_back(added);
    }
    if (options.exclude_bos && p == 0) continue;
    auto it = seen.find(tokens[p]);
    if (it == seen.end()) continue;
    double s = 0;
    int64_t n = 0;
    for (int64_t m : it->second) {
      const int64_t j = m + shift;
      if (j > p) continue;
      if (options.exclude_bos && j == 0) continue;
      s += v.at(r, j);
      ++n;
    }
    if (n == 0) continue;
    acc.sum += s;
    acc.uniform += static_cast<double>(n) / static_cast<double>(p + 1);
    ++acc.rows;
  }
  return detail::finish_score(acc, options);
}

}  // namespace

double previous_token_score(const Tensor& pattern, const ScoreOptions& options) {
  return single_target_score(pattern, options, "previous_token_score", false, [](int64_t p) { return p - 1; });
}

double first_token_score(const Tensor& pattern, const ScoreOptions& options) {
  return single_target_score(pattern, options, "first_token_score", true, [](int64_t) { return int64_t{0}; });
}

double current_token_score(const Tensor& pattern, const ScoreOptions& options) {
  return single_target_score(pattern, options, "current_token_score", false, [](int64_t p) { return p; });
}

double induction_score(const Tensor& pattern, int seq_len, const ScoreOptions& options) {
  if (seq_len < 1)
    fail(ErrorKind::InvalidArgument, "induction_score: seq_len must be >= 1, got " + std::to_string(seq_len));
  const int64_t d = seq_len - 1;
  return single_target_score(pattern, options, "induction_score", false, [d](int64_t p) { return p - d; });
}

double induction_score(const Tensor& pattern, const std::vector<int32_t>& tokens, const ScoreOptions& options) {
  return token_target_score(pattern, tokens, options, "induction_score", 1);
}

double duplicate_token_score(const Tensor& pattern, const std::vector<int32_t>& tokens, const ScoreOptions& options) {
  return token_target_score(pattern, tokens, options, "duplicate_token_score", 0);
}

Tensor uniform_causal_pattern(int64_t length) {
  if (length < 1)
    fail(ErrorKind::InvalidArgument, "uniform_causal_pattern: length must be >= 1, got " + std::to_string(length));
  Tensor t({length, length});
  float* d = t.data();
  for (int64_t p = 0; p < length; ++p)
    for (int64_t j = 0; j <= p; ++j) d[p * length + j] = static_cast<float>(1.0 / static_cast<double>(p + 1));
  return t;
}

Tensor head_pattern(const Tensor& patterns, int head, int batch) {
  Tensor t = patterns;
  if (t.ndim() == 4) {
    if (batch < 0 || batch >= t.dim(0))
      fail(ErrorKind::InvalidArgument, "head_pattern: batch " + std::to_string(batch) + " outside " + t.shape_str());
    t = t.slice0(batch);
  } else if (t.ndim() != 3) {
    fail(ErrorKind::InvalidArgument, "head_pattern: expected [B, H, Q, K] or [H, Q, K], got " + t.shape_str());
  }
  if (head < 0 || head >= t.dim(0))
    fail(ErrorKind::InvalidArgument,
         "head_pattern: head " + std::to_string(head) + " outside " + std::to_string(t.dim(0)) + " heads");
  return t.slice0(head);
}

}  // namespace attnscope
