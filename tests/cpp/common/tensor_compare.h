// Comparing tensors in tests: the largest elementwise difference (a NaN or a shape mismatch counts as
// infinitely far, so neither can pass a tolerance), and bit-for-bit equality.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "attnscope/tensor.h"

namespace attnscope::test {

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return std::numeric_limits<double>::infinity();
  double d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double diff = std::fabs(static_cast<double>(a.data()[i]) - b.data()[i]);
    if (std::isnan(diff)) return std::numeric_limits<double>::infinity();
    d = std::max(d, diff);
  }
  return d;
}

inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(a.numel())) == 0;
}

}  // namespace attnscope::test
