// Captures of a forward pass run in pieces along the token axis (generation step by step, a
// chunked prefill) joined into what one pass over every token captures. Private to the library.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "attnscope/tensor.h"
#include "attnscope/trace.h"

namespace attnscope::detail {

// Per captured hook name, its pieces in order: [B, t_i, ...] hooks are concatenated along the
// tokens; square hooks ([B, H, t_i, k_i], queries t_i at the end of k_i keys) become [B, H, T, T]
// with the cells of keys a row never saw masked (-inf scores, 0 pattern). Logit pieces [B, t_i, V]
// (if any) are concatenated into trace.logits. T = `total` tokens.
void join_pieces(const std::map<std::string, std::vector<Tensor>>& pieces, const std::vector<Tensor>& logit_pieces,
                 int64_t total, Trace& trace);

}  // namespace attnscope::detail
