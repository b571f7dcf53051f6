// Which heads of a scan matter most, metric by metric. A single "sort descending" ranked the
// ablation deltas backwards: it put first the heads whose removal raises the target's logit and
// hid the largest drops.
#include <algorithm>
#include <cmath>

#include "attnscope/scan.h"

namespace attnscope {

MetricRank metric_rank(const std::string& metric) {
  // The deltas are ablated - clean: the head that matters most for the target is the one whose
  // removal lowers it most.
  if (metric == kAblationDeltaLogit || metric == kAblationDeltaProb) return MetricRank::LowestFirst;
  return MetricRank::HighestFirst;
}

const char* metric_rank_name(MetricRank rank) {
  return rank == MetricRank::LowestFirst ? "lowest first" : "highest first";
}

std::vector<HeadSummary> top_heads(const std::vector<HeadSummary>& summary, const std::string& metric, size_t n) {
  std::vector<HeadSummary> heads;
  for (const auto& s : summary)
    if (s.metric == metric && s.count > 0 && !std::isnan(s.mean)) heads.push_back(s);
  const bool lowest = metric_rank(metric) == MetricRank::LowestFirst;
  std::stable_sort(heads.begin(), heads.end(), [lowest](const HeadSummary& a, const HeadSummary& b) {
    return lowest ? a.mean < b.mean : a.mean > b.mean;
  });  // stable: the summary is in layer, head order, so ties keep it
  if (heads.size() > n) heads.resize(n);
  return heads;
}

}  // namespace attnscope
