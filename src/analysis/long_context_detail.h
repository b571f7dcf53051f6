// Shared plumbing of the long-context analyses (long_context.h). Private to src/analysis.
#pragma once
#include <cstdint>
#include <vector>

#include "attnscope/model.h"
#include "attnscope/tensor.h"

namespace attnscope::detail {

// BOS (when the model's tokenizer has one) + tokens.
std::vector<int32_t> with_bos(const Model& model, const std::vector<int32_t>& tokens);
int32_t bos_of(const Model& model);  // -1 without
// InvalidArgument naming `what` unless min_length <= length <= available and the model's context.
void check_length(const Model& model, int64_t length, int64_t available, int64_t min_length, const char* what);
// [rows, cols] of NaN (layers not measured stay NaN).
Tensor nan_tensor(int64_t rows, int64_t cols);

}  // namespace attnscope::detail
