// The per-head and per-prompt figures of the fidelity comparison (fidelity.h): pattern
// differences, Jensen-Shannon divergence of rows, score and type changes, logit agreement.
#include <algorithm>
#include <cmath>
#include <limits>

#include "analysis/fidelity_detail.h"
#include "attnscope/error.h"

namespace attnscope {

double js_divergence(const float* a, const float* b, int64_t n) {
  // Lin 1991: JS = H((a + b) / 2) - (H(a) + H(b)) / 2, written as the mean of the two KL
  // divergences to the midpoint, term by term, so that 0 * log 0 = 0 needs no special case
  // beyond skipping zero terms.
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = a[i], y = b[i];
    if (!std::isfinite(x) || !std::isfinite(y)) return std::numeric_limits<double>::quiet_NaN();
    const double m = 0.5 * (x + y);
    if (x > 0) s += 0.5 * x * std::log(x / m);
    if (y > 0) s += 0.5 * y * std::log(y / m);
  }
  // Rows sum to 1 only to float rounding, which can leave a sum a hair below 0.
  return std::max(0.0, s);
}

namespace detail {

double accumulate_head(HeadAccumulator& acc, const Tensor& model_pattern, const Tensor& ref_pattern,
                       const std::vector<int32_t>& tokens, const AttentionPatternDetector& detector) {
  const int64_t T = ref_pattern.dim(0), K = ref_pattern.dim(1);
  if (model_pattern.shape() != ref_pattern.shape())
    fail(ErrorKind::InvalidArgument,
         "compare_fidelity: pattern shapes differ: " + model_pattern.shape_str() + " and " + ref_pattern.shape_str());
  const float* a = model_pattern.data();
  const float* r = ref_pattern.data();
  double pair_max = 0;
  for (int64_t q = 0; q < T; ++q) {
    const int64_t last = q + (K - T);  // the query's own position: keys after it are masked in both
    for (int64_t k = 0; k < K; ++k) {
      const double d = std::fabs(static_cast<double>(a[q * K + k]) - r[q * K + k]);
      pair_max = nan_max(pair_max, d);
      if (k <= last) {
        acc.sum_abs += d;
        ++acc.causal_entries;
      }
    }
    const double js = js_divergence(a + q * K, r + q * K, K);
    acc.js_sum += js;
    acc.js_max = nan_max(acc.js_max, js);
    ++acc.rows;
  }
  acc.max_abs = nan_max(acc.max_abs, pair_max);

  HeadContext ctx;
  ctx.tokens = tokens;
  const HeadScores sm = detector.analyze_head(model_pattern, ctx);
  const HeadScores sr = detector.analyze_head(ref_pattern, ctx);
  const auto mm = sm.to_map(), mr = sr.to_map();
  for (const auto& [name, v] : mr) {
    ScoreSums& s = acc.scores[name];
    const double m = mm.at(name);
    s.ref += v;
    s.model += m;
    s.max_abs_delta = nan_max(s.max_abs_delta, std::fabs(m - v));
    ++s.n;
  }
  if (detector.classify(sm) != detector.classify(sr)) ++acc.type_changed_prompts;
  return pair_max;
}

namespace {
// The mean scores as HeadScores, so that the detector classifies them as it would one prompt's.
HeadScores mean_scores(const std::map<std::string, ScoreSums>& sums, bool model) {
  HeadScores h;
  for (const auto& [name, s] : sums) {
    const double v = (model ? s.model : s.ref) / s.n;
    if (name == kPreviousToken)
      h.previous_token = v;
    else if (name == kFirstToken)
      h.first_token = v;
    else if (name == kCurrentToken)
      h.current_token = v;
    else if (name == kInduction)
      h.induction = v;
    else if (name == kDuplicateToken)
      h.duplicate_token = v;
  }
  return h;
}
}  // namespace

HeadFidelity finish_head(int layer, int head, const HeadAccumulator& acc, const AttentionPatternDetector& detector) {
  HeadFidelity h;
  h.layer = layer;
  h.head = head;
  h.max_abs_delta = acc.max_abs;
  h.mean_abs_delta = acc.causal_entries ? acc.sum_abs / static_cast<double>(acc.causal_entries) : 0.0;
  h.js_mean = acc.rows ? acc.js_sum / static_cast<double>(acc.rows) : 0.0;
  h.js_max = acc.js_max;
  for (const auto& [name, s] : acc.scores) {
    ScoreChange c;
    c.reference = s.ref / s.n;
    c.model = s.model / s.n;
    c.delta = c.model - c.reference;
    c.max_abs_delta = s.max_abs_delta;
    h.scores[name] = c;
  }
  h.reference_types = detector.classify(mean_scores(acc.scores, false));
  h.model_types = detector.classify(mean_scores(acc.scores, true));
  h.type_changed_prompts = acc.type_changed_prompts;
  return h;
}

void compare_logits(const Tensor& model_logits, const Tensor& ref_logits, PromptFidelity& out) {
  if (model_logits.shape() != ref_logits.shape())
    fail(ErrorKind::InvalidArgument,
         "compare_fidelity: logit shapes differ: " + model_logits.shape_str() + " and " + ref_logits.shape_str());
  const int64_t T = ref_logits.dim(1), V = ref_logits.dim(2);
  int64_t agree = 0;
  out.max_abs_logit_delta = 0;
  for (int64_t t = 0; t < T; ++t) {
    const float* a = model_logits.data() + t * V;
    const float* r = ref_logits.data() + t * V;
    int64_t am = 0, ar = 0;
    for (int64_t v = 0; v < V; ++v) {
      if (a[v] > a[am]) am = v;  // first on ties, as greedy decoding picks
      if (r[v] > r[ar]) ar = v;
      const double d = std::fabs(static_cast<double>(a[v]) - r[v]);
      if (std::isnan(d) && !std::isnan(out.max_abs_logit_delta)) {
        out.max_abs_logit_delta = d;
        out.max_logit_position = t;
        out.max_logit_token = static_cast<int32_t>(v);
      } else if (d > out.max_abs_logit_delta) {
        out.max_abs_logit_delta = d;
        out.max_logit_position = t;
        out.max_logit_token = static_cast<int32_t>(v);
      }
    }
    agree += (am == ar);
  }
  out.argmax_agreement = T ? static_cast<double>(agree) / static_cast<double>(T) : 1.0;
}

}  // namespace detail
}  // namespace attnscope
