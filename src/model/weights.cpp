#include "model/weights.h"

#include "tensor/ops.h"

namespace attnscope::detail {

void linear_weight(const float* x, int64_t rows, const WeightMatrix& W, const Tensor* bias, float* y, bool accumulate) {
  ops::linear(x, rows, W.dim(1), W.data(), W.dim(0), bias ? bias->data() : nullptr, y, accumulate);
}

}  // namespace attnscope::detail
