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

// The rows of a score with a single fixed target column per position (target(p) < 0: no such
// row), with value(r, t) summed over them. The row set depends only on the shape and the
// options; score_rows counts it with a value of 0, so the count and the score cannot disagree.
template <class Target, class Value>
RowScore single_target_rows(int64_t q, int64_t offset, const ScoreOptions& options, bool allow_target0, Target target,
                            Value value) {
  RowScore acc;
  for (int64_t r = 0; r < q; ++r) {
    const int64_t p = r + offset;
    if (options.exclude_bos && p == 0) continue;
    const int64_t t = target(p);
    if (t < 0 || t > p) continue;
    if (options.exclude_bos && t == 0 && !allow_target0) continue;
    acc.sum += value(r, t);
    acc.uniform += 1.0 / static_cast<double>(p + 1);
    ++acc.rows;
  }
  return acc;
}

template <class Target>
double single_target_score(const Tensor& pattern, const ScoreOptions& options, const char* what, bool allow_target0,
                           Target target) {
  const PatternView v = detail::pattern_view(pattern, what);
  RowScore acc = single_target_rows(v.q, v.offset, options, allow_target0, target,
                                    [&v](int64_t r, int64_t t) { return v.at(r, t); });
  acc.non_finite = !v.finite;
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
// value(r, j) is summed over the targets, as in single_target_rows.
template <class Value>
RowScore token_target_rows(int64_t q, int64_t offset, const std::vector<int32_t>& tokens, const ScoreOptions& options,
                           int shift, Value value) {
  std::unordered_map<int32_t, std::vector<int64_t>> seen;  // token -> positions (of j - shift)
  RowScore acc;
  int64_t added = 0;  // positions 0..added-1 are in `seen`
  for (int64_t r = 0; r < q; ++r) {
    const int64_t p = r + offset;
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
      s += value(r, j);
      ++n;
    }
    if (n == 0) continue;
    acc.sum += s;
    acc.uniform += static_cast<double>(n) / static_cast<double>(p + 1);
    ++acc.rows;
  }
  return acc;
}

double token_target_score(const Tensor& pattern, const std::vector<int32_t>& tokens, const ScoreOptions& options,
                          const char* what, int shift) {
  const PatternView v = detail::pattern_view(pattern, what);
  check_tokens(v, tokens, what);
  RowScore acc =
      token_target_rows(v.q, v.offset, tokens, options, shift, [&v](int64_t r, int64_t j) { return v.at(r, j); });
  acc.non_finite = !v.finite;
  return detail::finish_score(acc, options);
}

int64_t previous_target(int64_t p) { return p - 1; }
int64_t first_target(int64_t) { return 0; }
int64_t current_target(int64_t p) { return p; }
double no_value(int64_t, int64_t) { return 0.0; }

}  // namespace

double previous_token_score(const Tensor& pattern, const ScoreOptions& options) {
  return single_target_score(pattern, options, "previous_token_score", false, previous_target);
}

double first_token_score(const Tensor& pattern, const ScoreOptions& options) {
  return single_target_score(pattern, options, "first_token_score", true, first_target);
}

double current_token_score(const Tensor& pattern, const ScoreOptions& options) {
  return single_target_score(pattern, options, "current_token_score", false, current_target);
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

ScoreRows score_rows(int64_t q, int64_t k, const HeadContext& context, const ScoreOptions& options) {
  if (q < 1 || k < q)
    fail(ErrorKind::InvalidArgument,
         "score_rows: need 1 <= q <= k, got q = " + std::to_string(q) + ", k = " + std::to_string(k));
  const int64_t offset = k - q;
  ScoreRows n;
  n.previous_token = single_target_rows(q, offset, options, false, previous_target, no_value).rows;
  n.first_token = single_target_rows(q, offset, options, true, first_target, no_value).rows;
  n.current_token = single_target_rows(q, offset, options, false, current_target, no_value).rows;
  if (!context.tokens.empty()) {
    if (static_cast<int64_t>(context.tokens.size()) != k)
      fail(ErrorKind::InvalidArgument, "score_rows: " + std::to_string(context.tokens.size()) +
                                           " tokens for a pattern with " + std::to_string(k) + " keys");
    n.induction = token_target_rows(q, offset, context.tokens, options, 1, no_value).rows;
    n.duplicate_token = token_target_rows(q, offset, context.tokens, options, 0, no_value).rows;
  }
  if (context.seq_len) {  // as analyze_head: the random-repeat score wins over the token-based one
    if (*context.seq_len < 1)
      fail(ErrorKind::InvalidArgument, "score_rows: seq_len must be >= 1, got " + std::to_string(*context.seq_len));
    const int64_t d = *context.seq_len - 1;
    n.induction = single_target_rows(
                      q, offset, options, false, [d](int64_t p) { return p - d; }, no_value)
                      .rows;
  }
  return n;
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
