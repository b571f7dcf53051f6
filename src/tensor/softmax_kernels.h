// Vectorised row softmax for the bfloat16 compute path (see softmax_kernels.cpp). Private.
#pragma once
#include <cstdint>

namespace attnscope::kernels {

// In place over `rows` rows of n: -inf entries -> 0, an all -inf row -> zeros, a row with a NaN
// -> all NaN (as ops::softmax_rows); exp within ~2 ulp of std::exp.
void softmax_rows_fast(float* x, int64_t rows, int64_t n);

}  // namespace attnscope::kernels
