// The attention rows the long-context analyses (long_context.h) read, each behind one function so
// that the way they are obtained (today: one layer's full pattern at a time through
// RunOptions::capture_sink; later: selective capture or statistics streamed by the attention
// kernel) can change without touching the scoring. Private to src/analysis.
#pragma once
#include <cstdint>
#include <map>
#include <vector>

#include "attnscope/model.h"

namespace attnscope::detail {

// Per head, a list of numbers per query row: layer -> [H][rows].
using HeadRows = std::map<int, std::vector<std::vector<double>>>;

// Row p's attention on keys 0..k-1 (k clipped to p + 1), for every row p of `ids`.
// `interventions` run as in RunOptions (e.g. a head's pattern set to a known matrix).
HeadRows first_keys_mass(const Model& model, const std::vector<int32_t>& ids, const std::vector<int>& layers, int k,
                         const std::vector<Intervention>& interventions = {});

// A[p, p - offset] for the rows p >= offset (row p at index p - offset).
HeadRows offset_diagonal(const Model& model, const std::vector<int32_t>& ids, const std::vector<int>& layers,
                         int64_t offset);

// The most-attended key (first one on ties) of each listed query row: layer -> [H][rows.size()].
// With `greedy`, the same pass also gives the model's greedy next token at each listed row (argmax
// of the logits, first on ties), from the final normalised residual of those rows only (never the
// [T, V] logits of a long prompt).
using HeadArgmax = std::map<int, std::vector<std::vector<int64_t>>>;
HeadArgmax argmax_keys(const Model& model, const std::vector<int32_t>& ids, const std::vector<int>& layers,
                       const std::vector<int64_t>& rows, std::vector<int32_t>* greedy = nullptr);

// Greedy generation of n tokens after `prompt`; argmax[layer][h][i] is the most-attended key of
// the row that produced new token i (the last prompt row for i = 0). Memory as argmax_keys.
struct GeneratedArgmax {
  std::vector<int32_t> new_tokens;
  HeadArgmax argmax;
};
GeneratedArgmax generated_argmax_keys(const Model& model, const std::vector<int32_t>& prompt,
                                      const std::vector<int>& layers, int n);

}  // namespace attnscope::detail
