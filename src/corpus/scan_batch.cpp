// One batch of a scan: a forward pass capturing the patterns of the scanned layers, every head
// scored, and (with ablation) one mean-ablation sweep per prompt.
#include <algorithm>
#include <cmath>
#include <limits>

#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "attnscope/scan.h"

namespace attnscope {

namespace {

bool has_repeated_token(const std::vector<int32_t>& ids) {
  std::vector<int32_t> s(ids);
  std::sort(s.begin(), s.end());
  return std::adjacent_find(s.begin(), s.end()) != s.end();
}

// Writes one unit's scores of the head pattern A into its row.
class RowWriter {
 public:
  RowWriter(const ScanPlan& plan, std::vector<double>& values, size_t li, int h)
      : plan_(plan), values_(values), li_(li), h_(h) {}
  void set(const std::string& metric, double v) {
    const auto it = std::find(plan_.metrics.begin(), plan_.metrics.end(), metric);
    const size_t m = static_cast<size_t>(it - plan_.metrics.begin());
    values_[(m * plan_.layers.size() + li_) * static_cast<size_t>(plan_.n_head) + static_cast<size_t>(h_)] = v;
  }
  template <class Score>
  void both(const std::string& metric, Score score) {
    set(metric, score(ScoreOptions{false, false}));
    set(metric + kCorrectedSuffix, score(ScoreOptions{false, true}));
  }

 private:
  const ScanPlan& plan_;
  std::vector<double>& values_;
  size_t li_;
  int h_;
};

void score_head(const ScanPlan& plan, const ScanOptions& o, const ScanUnit& u, const Tensor& A, bool repeats,
                RowWriter& w) {
  if (u.kind == ScanUnit::Kind::RandomInduction) {
    w.both(kInductionRandom, [&](const ScoreOptions& so) { return induction_score(A, o.induction_tokens, so); });
    return;
  }
  w.both(kPreviousToken, [&](const ScoreOptions& so) { return previous_token_score(A, so); });
  w.both(kFirstToken, [&](const ScoreOptions& so) { return first_token_score(A, so); });
  w.both(kCurrentToken, [&](const ScoreOptions& so) { return current_token_score(A, so); });
  if (repeats) {
    w.both(kInduction, [&](const ScoreOptions& so) { return induction_score(A, u.ids, so); });
    w.both(kDuplicateToken, [&](const ScoreOptions& so) { return duplicate_token_score(A, u.ids, so); });
  }
  for (const auto& [name, fn] : o.custom) w.set(name, fn(A));
  (void)plan;
}

void ablation_effects(const Model& model, const ScanPlan& plan, const ScanOptions& o, const ScanUnit& u,
                      std::vector<double>& values) {
  const int64_t T = static_cast<int64_t>(u.ids.size());
  AblationSweepOptions so;
  so.kind = AblationKind::Mean;
  so.layers = plan.layers;
  if (o.ablation_target >= 0) {
    so.target = o.ablation_target;
    so.position = static_cast<int>(T - 1);
  } else {
    if (T < 2) return;  // nothing before the last token to predict it
    so.target = u.ids.back();
    so.position = static_cast<int>(T - 2);
  }
  const AblationSweepResult r = head_ablation_sweep(model, u.ids, so);
  for (size_t li = 0; li < plan.layers.size(); ++li)
    for (int h = 0; h < plan.n_head; ++h) {
      RowWriter w(plan, values, li, h);
      const HeadEffect& e = r.at(plan.layers[li], h);
      w.set(kAblationDeltaLogit, e.delta_logit);
      w.set(kAblationDeltaProb, e.delta_prob);
    }
}

}  // namespace

std::vector<ScanRow> scan_batch(const Model& model, const ScanPlan& plan, const std::vector<int64_t>& batch,
                                const ScanOptions& o) {
  if (batch.empty()) fail(ErrorKind::InvalidArgument, "scan_batch: empty batch");
  std::vector<std::vector<int32_t>> ids;
  for (int64_t u : batch) {
    if (u < 0 || u >= static_cast<int64_t>(plan.units.size()))
      fail(ErrorKind::InvalidArgument, "scan_batch: unit " + std::to_string(u) + " is not in the plan");
    ids.push_back(plan.units[static_cast<size_t>(u)].ids);
  }
  RunOptions ro;
  ro.capture = {hook_glob(HookPoint::AttnPattern)};
  ro.layers = plan.layers;
  ro.return_logits = false;
  ro.padding = o.padding;
  const Trace t = model.run_batch(ids, ro);

  std::vector<ScanRow> rows;
  for (size_t b = 0; b < batch.size(); ++b) {
    const ScanUnit& u = plan.units[static_cast<size_t>(batch[b])];
    ScanRow row;
    row.unit = u.index;
    row.values.assign(static_cast<size_t>(plan.values_per_unit()), std::numeric_limits<double>::quiet_NaN());
    const bool repeats = has_repeated_token(u.ids);
    const std::map<int, Tensor> patterns = t.row(static_cast<int>(b)).attention_patterns();  // pads cut
    for (size_t li = 0; li < plan.layers.size(); ++li) {
      const Tensor& layer = patterns.at(plan.layers[li]);
      for (int h = 0; h < plan.n_head; ++h) {
        RowWriter w(plan, row.values, li, h);
        score_head(plan, o, u, head_pattern(layer, h), repeats, w);
      }
    }
    if (o.ablation && u.kind == ScanUnit::Kind::Prompt) ablation_effects(model, plan, o, u, row.values);
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace attnscope
