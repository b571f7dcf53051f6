// Classifying heads of already captured patterns, custom pattern search and the registry of
// named detectors: everything that needs no model (the model runs are in detect.cpp).
#include <algorithm>
#include <cmath>
#include <string>

#include "analysis/scores_detail.h"
#include "attnscope/analysis.h"
#include "attnscope/error.h"

namespace attnscope {

std::map<std::string, std::vector<std::pair<int, int>>> HeadTypeReport::by_type() const {
  std::map<std::string, std::vector<std::pair<int, int>>> m;
  for (const auto& h : heads)
    for (const auto& t : h.types) m[t].emplace_back(h.layer, h.head);
  return m;
}

std::vector<std::pair<int, int>> HeadTypeReport::heads_of(const std::string& type) const {
  std::vector<std::pair<int, int>> out;
  for (const auto& h : heads)
    if (std::find(h.types.begin(), h.types.end(), type) != h.types.end()) out.emplace_back(h.layer, h.head);
  return out;
}

std::vector<std::string> HeadTypeReport::few_row_scores() const {
  std::vector<std::string> out;
  const auto check = [&out](const char* type, std::optional<int64_t> n) {
    if (n && *n < kMinScoreRows) out.push_back(type);
  };
  check(kPreviousToken, rows.previous_token);
  check(kFirstToken, rows.first_token);
  check(kCurrentToken, rows.current_token);
  check(kInduction, rows.induction);
  check(kDuplicateToken, rows.duplicate_token);
  return out;
}

HeadTypeReport classify_heads(const std::map<int, Tensor>& patterns, const std::vector<int32_t>& tokens,
                              const AttentionPatternDetector& detector) {
  HeadTypeReport report;
  report.tokens = tokens;
  report.detector = detector;
  HeadContext ctx;
  ctx.tokens = tokens;
  std::vector<int32_t> sorted(tokens);
  std::sort(sorted.begin(), sorted.end());
  report.has_repeats = std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
  if (!patterns.empty() && patterns.begin()->second.ndim() == 4) {
    // Every head of every layer has the same [Q, K]; the token-based scores exist only with a
    // repeated token (analyze_head).
    const Tensor& t = patterns.begin()->second;
    report.rows = score_rows(t.dim(2), t.dim(3), report.has_repeats ? ctx : HeadContext{}, detector.options);
  }
  for (const auto& [layer, t] : patterns) {
    if (t.ndim() != 4)
      fail(ErrorKind::InvalidArgument,
           "classify_heads: layer " + std::to_string(layer) + " pattern must be [B, H, Q, K], got " + t.shape_str());
    for (int h = 0; h < t.dim(1); ++h) {
      const Tensor a = head_pattern(t, h, 0);
      HeadReport r;
      r.layer = layer;
      r.head = h;
      r.scores = detector.analyze_head(a, ctx);
      r.types = detector.classify(r.scores);
      r.entropy = pattern_entropy(a);
      report.heads.push_back(std::move(r));
    }
  }
  return report;
}

// ---- custom patterns ---------------------------------------------------------------------

namespace {
void sort_matches(std::vector<PatternMatch>& m) {
  std::sort(m.begin(), m.end(), [](const PatternMatch& a, const PatternMatch& b) {
    if (std::isnan(a.score) != std::isnan(b.score)) return std::isnan(b.score);  // NaN last
    if (a.score != b.score && !std::isnan(a.score)) return a.score > b.score;
    return a.layer != b.layer ? a.layer < b.layer : a.head < b.head;
  });
}
}  // namespace

std::vector<PatternMatch> find_attention_pattern(const std::map<int, Tensor>& patterns, const PatternFn& pattern_fn,
                                                 double threshold, const std::string& name) {
  detail::check_threshold(threshold, "find_attention_pattern");
  if (!pattern_fn) fail(ErrorKind::InvalidArgument, "find_attention_pattern: pattern_fn is empty");
  std::vector<PatternMatch> out;
  for (const auto& [layer, t] : patterns) {
    if (t.ndim() != 4)
      fail(ErrorKind::InvalidArgument, "find_attention_pattern: layer " + std::to_string(layer) +
                                           " pattern must be [B, H, Q, K], got " + t.shape_str());
    for (int h = 0; h < t.dim(1); ++h) {
      const double s = pattern_fn(head_pattern(t, h, 0));
      if (s >= threshold) out.push_back({layer, h, s, name});
    }
  }
  sort_matches(out);
  return out;
}

void PatternRegistry::register_pattern(const std::string& name, PatternFn fn, double threshold) {
  if (name.empty()) fail(ErrorKind::InvalidArgument, "register_pattern: the name is empty");
  if (!fn) fail(ErrorKind::InvalidArgument, "register_pattern '" + name + "': the score function is empty");
  detail::check_threshold(threshold, ("register_pattern '" + name + "'").c_str());
  patterns_[name] = {std::move(fn), threshold};
}

bool PatternRegistry::unregister_pattern(const std::string& name) { return patterns_.erase(name) != 0; }

std::vector<std::string> PatternRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [n, p] : patterns_) out.push_back(n);
  return out;
}

std::map<std::string, std::vector<PatternMatch>> PatternRegistry::detect_all(
    const std::map<int, Tensor>& patterns) const {
  std::map<std::string, std::vector<PatternMatch>> out;
  for (const auto& [name, p] : patterns_) out[name] = find_attention_pattern(patterns, p.first, p.second, name);
  return out;
}

PatternRegistry PatternRegistry::with_builtin() {
  PatternRegistry r;
  r.register_pattern(
      kPreviousToken, [](const Tensor& a) { return previous_token_score(a); }, 0.5);
  r.register_pattern(
      kFirstToken, [](const Tensor& a) { return first_token_score(a); }, 0.3);
  r.register_pattern(
      kCurrentToken, [](const Tensor& a) { return current_token_score(a); }, 0.3);
  return r;
}

}  // namespace attnscope
