// The explorer's and figures' pattern file (`--patterns FILE.json`):
//   {"tokens": ["<s>", "a", ...], "patterns": {"<layer>": [H][Q][K] or [B][H][Q][K] numbers}}
// Numbers may be null (read as NaN: a pattern that holds non-finite values stays visible as such).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "attnscope/tensor.h"

namespace attnscope::detail {

struct PatternsFile {
  std::map<int, Tensor> patterns;  // layer -> [B, H, Q, K]
  std::vector<std::string> tokens;
};

// Errors: NotFound (cannot open), Format (not JSON, wrong shape, irregular arrays, non-numbers),
// each naming the file and what is wrong.
PatternsFile read_patterns_json(const std::string& path);

}  // namespace attnscope::detail
