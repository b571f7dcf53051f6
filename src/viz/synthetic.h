// Deterministic synthetic attention patterns (no model needed): for sizing the explorer on large
// shapes (e.g. 512 tokens x 16 layers x 32 heads) and for tests. Each head is causal, rows sum to 1,
// and mixes a recognisable job (previous-token, first-token, current-token, diffuse) with noise.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attnscope/tensor.h"

namespace attnscope::detail {

// layer -> [1, heads, tokens, tokens]. Head h of any layer does job h % 4: 0 previous-token,
// 1 first-token, 2 current-token, 3 diffuse softmax of random scores.
std::map<int, Tensor> synthetic_patterns(int tokens, int layers, int heads, uint64_t seed = 1);
// "tok0", "tok1", ... as token strings.
std::vector<std::string> synthetic_tokens(int tokens);

}  // namespace attnscope::detail
