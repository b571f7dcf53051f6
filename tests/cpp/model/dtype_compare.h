// Shared by the tests that compare a model loaded with one compute dtype against another.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "attnscope/model.h"

namespace attnscope::test {

inline Model load_with_dtype(const std::string& path, const std::string& dtype) {
  LoadOptions o;
  o.dtype = dtype;
  return Model::load(path, o);
}

// max |a - b| over all elements (the shapes must agree).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double d = 0;
  for (int64_t i = 0; i < std::min(a.numel(), b.numel()); ++i)
    d = std::max(d, std::fabs(static_cast<double>(a.data()[i]) - b.data()[i]));
  return d;
}

}  // namespace attnscope::test
