// Ragged batches: prompts of different lengths padded into one [B, T] forward pass. Pads are
// never attended to by a real token; positions count from each row's first real token, so every
// prompt computes what it computes alone. Private to the library.
#pragma once
#include <cstdint>
#include <vector>

#include "attnscope/trace.h"

namespace attnscope::detail {

// Row b's real tokens are at positions [first[b], first[b] + length[b]) of the padded rows.
struct RowSpans {
  std::vector<int64_t> first, length;
};

// The rows padded to the longest (with token 0, which is never attended to) on `padding`'s side,
// and where each row's real tokens are.
RowSpans pad_rows(const std::vector<std::vector<int32_t>>& ids, Padding padding,
                  std::vector<std::vector<int32_t>>& padded);

// Position of every token of a [B, T] batch continuing n_past cached positions, row-major: n_past
// + t, or with spans t - first[b] (pads get 0; no real token sees them).
std::vector<int32_t> row_positions(int64_t B, int64_t T, int64_t n_past, const RowSpans* spans);

// Where a query may look in a ragged batch: a real query at padded position i of row b sees keys
// j in [first[b], i] (the causal range without left pads; right pads come after it); a pad
// query sees only itself (a finite softmax row that nothing reads).
inline bool key_visible(const RowSpans& s, int64_t b, int64_t i, int64_t j) {
  const int64_t lo = s.first[static_cast<size_t>(b)], hi = lo + s.length[static_cast<size_t>(b)];
  if (i < lo || i >= hi) return j == i;
  return j >= lo && j <= i;
}

}  // namespace attnscope::detail
