// The explorer's extra views (viz.h ExplorerAnalysis) as the JSON block explorer_analysis.js reads.
#pragma once
#include <map>
#include <nlohmann/json.hpp>

#include "attnscope/tensor.h"
#include "attnscope/viz.h"

namespace attnscope::detail {

// {"value": base64 patterns (the same layout and bits as the weights), "rollout": base64 of one
// "head" per layer, "dla": [{name, targets, values: [Q][L][H] to 4 decimals}], "composition":
// [[l1, h1, l2, h2, kind, score], ...]}. InvalidArgument when the value-weighted patterns do not
// match the weights' layers and shapes or the rollout does not cover them.
nlohmann::json explorer_analysis_json(const ExplorerAnalysis& a, const std::map<int, Tensor>& patterns, int batch,
                                      int bits);

}  // namespace attnscope::detail
