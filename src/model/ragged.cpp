#include "model/ragged.h"

#include <algorithm>

namespace attnscope::detail {

RowSpans pad_rows(const std::vector<std::vector<int32_t>>& ids, Padding padding,
                  std::vector<std::vector<int32_t>>& padded) {
  size_t T = 0;
  for (const auto& row : ids) T = std::max(T, row.size());
  RowSpans s;
  padded.clear();
  for (const auto& row : ids) {
    const size_t pads = T - row.size();
    std::vector<int32_t> p(T, 0);
    const size_t first = padding == Padding::Left ? pads : 0;
    std::copy(row.begin(), row.end(), p.begin() + static_cast<std::ptrdiff_t>(first));
    padded.push_back(std::move(p));
    s.first.push_back(static_cast<int64_t>(first));
    s.length.push_back(static_cast<int64_t>(row.size()));
  }
  return s;
}

std::vector<int32_t> row_positions(int64_t B, int64_t T, int64_t n_past, const RowSpans* spans) {
  std::vector<int32_t> pos(static_cast<size_t>(B * T));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      int64_t p = n_past + t;
      if (spans) p = std::max<int64_t>(0, t - spans->first[static_cast<size_t>(b)]);
      pos[static_cast<size_t>(b * T + t)] = static_cast<int32_t>(p);
    }
  return pos;
}

}  // namespace attnscope::detail
