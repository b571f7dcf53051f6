// The explorer's views beyond the weights (viz.h ExplorerAnalysis) for one model run.
#pragma once
#include <map>
#include <vector>

#include "attnscope/model.h"
#include "attnscope/viz.h"

namespace attnscope::cli {

// One forward pass of `ids`: value-weighted patterns of the layers in `patterns`, rollout over all
// layers, direct logit attribution of every head at every position for two targets (the model's
// top prediction and the actual next token), and the strongest composition edges into and out of
// every head (skipped above 1024 heads, where the weight products get slow).
ExplorerAnalysis explorer_analysis(const Model& model, const std::vector<int32_t>& ids,
                                   const std::map<int, Tensor>& patterns);

}  // namespace attnscope::cli
