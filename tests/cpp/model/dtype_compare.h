// Shared by the tests that compare a model loaded with one compute dtype against another.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "attnscope/model.h"
#include "common/tensor_compare.h"

namespace attnscope::test {

inline Model load_with_dtype(const std::string& path, const std::string& dtype) {
  LoadOptions o;
  o.dtype = dtype;
  return Model::load(path, o);
}

// max |a - b| over all elements (the shapes must agree).
}  // namespace attnscope::test
