// How the analysis functions run a model: layer checks, text encoding with clear errors, and
// one traced forward pass that keeps only the attention patterns. Private to src/analysis.
#pragma once
#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

#include "attnscope/analysis.h"
#include "attnscope/model.h"
#include "attnscope/tensor.h"

namespace attnscope::detail {

// Sorted, deduplicated layers (all when empty); InvalidArgument naming `what` for a layer outside.
std::vector<int> checked_layers(const Model& model, const std::vector<int>& layers, const char* what);
// Text -> ids with BOS; InvalidArgument for empty text, no tokenizer, or longer than the context.
std::vector<int32_t> encode_text(const Model& model, std::string_view text, const char* what);
// Tokens that are not BOS.
int text_token_count(const Model& model, const std::vector<int32_t>& ids);
// layer -> [1, H, T, T] for each layer: the attention weights, or the normalised value-weighted
// patterns (attribution.h).
std::map<int, Tensor> run_patterns(const Model& model, const std::vector<int32_t>& ids, const std::vector<int>& layers,
                                   AttentionWeighting weighting = AttentionWeighting::Weight);
// Both from one forward pass.
struct WeightAndValuePatterns {
  std::map<int, Tensor> weight, value;
};
WeightAndValuePatterns run_weight_and_value_patterns(const Model& model, const std::vector<int32_t>& ids,
                                                     const std::vector<int>& layers);

}  // namespace attnscope::detail
