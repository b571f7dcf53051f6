// Per-head accumulators of the fidelity comparison (fidelity.h), filled prompt by prompt and
// layer by layer so that no run's patterns need to outlive the layer being compared.
// Private to src/analysis.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "attnscope/fidelity.h"

namespace attnscope::detail {

// max that keeps NaN: a head with a NaN anywhere must not look fine.
inline double nan_max(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return a > b ? a : b;
}

struct ScoreSums {
  double ref = 0, model = 0, max_abs_delta = 0;
  int n = 0;
};

struct HeadAccumulator {
  double max_abs = 0, sum_abs = 0, js_sum = 0, js_max = 0;
  int64_t causal_entries = 0, rows = 0;
  std::map<std::string, ScoreSums> scores;
  int type_changed_prompts = 0;
};

// Adds one prompt's pattern pair of one head ([T, T] each, T queries = T keys) to `acc`; returns
// max |a - r| of this pair. Scores and types use `detector` with the prompt's tokens.
double accumulate_head(HeadAccumulator& acc, const Tensor& model_pattern, const Tensor& ref_pattern,
                       const std::vector<int32_t>& tokens, const AttentionPatternDetector& detector);
// The head's figures once every prompt is in.
HeadFidelity finish_head(int layer, int head, const HeadAccumulator& acc, const AttentionPatternDetector& detector);
// Argmax agreement and the largest |logit change| of one prompt's logits ([1, T, V] each).
void compare_logits(const Tensor& model_logits, const Tensor& ref_logits, PromptFidelity& out);

}  // namespace attnscope::detail
