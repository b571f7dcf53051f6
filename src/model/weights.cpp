#include "model/weights.h"

#include "tensor/ops.h"

namespace attnscope::detail {

void linear_weight(const float* x, int64_t rows, const WeightMatrix& W, const Tensor* bias, float* y, bool accumulate) {
  linear(x, rows, W, bias ? bias->data() : nullptr, y, accumulate, W.compute);
}

}  // namespace attnscope::detail
