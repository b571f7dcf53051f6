// Private helpers of the patching sources: the per-row patch edit and the metric read-out.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/patching.h"
#include "attnscope/tensor.h"
#include "attnscope/trace.h"

namespace attnscope::patching::detail {

// The part of a hook's value one patched run overwrites; -1 on an axis means all of it. `pos` is
// the position (the destination/query position of a pattern), `head` the head on the hook's own
// head axis (key/value heads on hook_k / hook_v), `src` the key position of a pattern.
struct Slice {
  int pos = -1, head = -1, src = -1;
};

// An edit of `hook` (canonical name) that overwrites, in batch row b, the slice rows[b] with the
// same slice of `source` ([1, ...]: the same row for every b; or [B, ...]: row b). Rows past
// rows.size() are left alone.
Intervention patch_rows(const std::string& hook, Tensor source, std::vector<Slice> rows);

// RunOptions for patched runs whose metric is read: the last position's logits only when that is
// all the metric reads.
bool reads_last_only(const Metric& metric);
// InvalidArgument for a built-in metric with a token outside [0, n_vocab) or a Custom one without fn.
void check_metric(const Metric& metric, int64_t n_vocab);

// (x - corrupted) / (clean - corrupted); InvalidArgument when clean == corrupted.
double normalise(double x, double clean, double corrupted, const char* what);

}  // namespace attnscope::patching::detail
