// A trace as an .npz (numpy.load reads it): the captured hooks, logits, tokens and mask.
#include <string>
#include <vector>

#include "attnscope/npz.h"
#include "attnscope/trace.h"

namespace attnscope {

void save_trace_npz(const Trace& trace, const std::string& path, bool include_logits) {
  NpzWriter w(path);
  write_trace_npz(w, trace, include_logits, false);
  w.finish();
}

void write_trace_npz(NpzWriter& w, const Trace& trace, bool include_logits, bool f16) {
  for (const auto& [name, value] : trace.captured()) {
    if (f16)
      w.add_f16(name, value.shape(), value.data());
    else
      w.add_f32(name, value.shape(), value.data());
  }
  if (include_logits && !trace.logits.empty() && !trace.captured().count("logits"))
    w.add_f32("logits", trace.logits.shape(), trace.logits.data());
  // Ragged batches: rows padded like the captured tensors (-1 / "" at pads) and the mask.
  const int64_t B = static_cast<int64_t>(trace.tokens.size());
  const int64_t T = trace.padded_length();
  const auto mask = trace.attention_mask();
  std::vector<int32_t> ids, flat_mask;
  std::vector<std::string> strs;
  for (int64_t b = 0; b < B; ++b) {
    const auto& row = trace.tokens[static_cast<size_t>(b)];
    const bool have_str = static_cast<size_t>(b) < trace.str_tokens.size() &&
                          trace.str_tokens[static_cast<size_t>(b)].size() == row.size();
    size_t next = 0;
    for (int64_t t = 0; t < T; ++t) {
      const bool real = mask[static_cast<size_t>(b)][static_cast<size_t>(t)] != 0;
      ids.push_back(real ? row[next] : -1);
      if (have_str) strs.push_back(real ? trace.str_tokens[static_cast<size_t>(b)][next] : std::string());
      flat_mask.push_back(real ? 1 : 0);
      next += real ? 1 : 0;
    }
  }
  w.add_i32("tokens", {B, T}, ids.data());
  if (trace.padded()) w.add_i32("attention_mask", {B, T}, flat_mask.data());
  if (static_cast<int64_t>(strs.size()) == B * T) w.add_strings("str_tokens", {B, T}, strs);
}

}  // namespace attnscope
