// Shared plumbing of the analysis sources: a checked view of one head's [q, k] pattern and the
// accumulator every "mean over rows" score uses. Private to src/analysis.
#pragma once
#include <cstdint>

#include "attnscope/analysis.h"
#include "attnscope/tensor.h"

namespace attnscope::detail {

struct PatternView {
  int64_t q = 0, k = 0;
  int64_t offset = 0;  // absolute position of row 0 (k - q)
  const float* data = nullptr;
  bool finite = true;  // no NaN or inf anywhere in the pattern
  double at(int64_t r, int64_t c) const { return data[r * k + c]; }
};
// InvalidArgument naming `what` unless `pattern` is a non-empty 2-D [q, k] with q <= k.
PatternView pattern_view(const Tensor& pattern, const char* what);

struct RowScore {
  double sum = 0;      // the pattern's attention on the targets, summed over rows
  double uniform = 0;  // the same for the uniform causal head
  int64_t rows = 0;
  bool non_finite = false;  // the pattern held NaN/inf: the score is NaN, never a number
};
double finish_score(const RowScore& acc, const ScoreOptions& options);

// InvalidArgument unless 0 <= threshold <= 1 (and not NaN).
void check_threshold(double threshold, const char* what);

}  // namespace attnscope::detail
