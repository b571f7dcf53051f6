// Whole-model detection: one traced run, then every head of the requested layers scored.
#include <algorithm>
#include <cmath>
#include <string>

#include "analysis/run_detail.h"
#include "analysis/scores_detail.h"
#include "attnscope/analysis.h"
#include "attnscope/error.h"
#include "attnscope/model.h"

namespace attnscope {

namespace detail {

std::vector<int> checked_layers(const Model& model, const std::vector<int>& layers, const char* what) {
  const int n = model.config().n_layer;
  std::vector<int> out;
  if (layers.empty()) {
    for (int l = 0; l < n; ++l) out.push_back(l);
    return out;
  }
  for (int l : layers) {
    if (l < 0 || l >= n)
      fail(ErrorKind::InvalidArgument, std::string(what) + ": layer " + std::to_string(l) +
                                           " does not exist (the model has " + std::to_string(n) +
                                           " layers: 0.." + std::to_string(n - 1) + ")");
    out.push_back(l);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int32_t> encode_text(const Model& model, std::string_view text, const char* what) {
  if (text.empty()) fail(ErrorKind::InvalidArgument, std::string(what) + ": the text is empty");
  if (!model.has_tokenizer())
    fail(ErrorKind::InvalidArgument, std::string(what) + ": model " + model.source() +
                                         " has no tokenizer to encode the text");
  std::vector<int32_t> ids = model.encode(text, true);
  const int ctx = model.config().n_ctx;
  if (ctx > 0 && static_cast<int64_t>(ids.size()) > ctx)
    fail(ErrorKind::InvalidArgument, std::string(what) + ": the text is " + std::to_string(ids.size()) +
                                         " tokens, longer than the model's context of " + std::to_string(ctx));
  return ids;
}

int text_token_count(const Model& model, const std::vector<int32_t>& ids) {
  const int32_t bos = model.has_tokenizer() ? model.tokenizer().bos_id() : -1;
  int n = 0;
  for (int32_t id : ids) n += (id != bos);
  return n;
}

std::map<int, Tensor> run_patterns(const Model& model, const std::vector<int32_t>& ids,
                                   const std::vector<int>& layers) {
  RunOptions ro;
  for (int l : layers) ro.capture.push_back("blocks." + std::to_string(l) + ".attn.hook_pattern");
  ro.layers = layers;
  ro.return_logits = false;
  Trace trace = model.run(ids, ro);
  std::map<int, Tensor> all = trace.attention_patterns();
  std::map<int, Tensor> out;
  for (int l : layers) {
    auto it = all.find(l);
    if (it == all.end())
      fail(ErrorKind::NotFound, "the forward pass captured no attention pattern for layer " + std::to_string(l));
    out.emplace(l, it->second);
  }
  return out;
}

}  // namespace detail

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
  for (const auto& [layer, t] : patterns) {
    if (t.ndim() != 4)
      fail(ErrorKind::InvalidArgument, "classify_heads: layer " + std::to_string(layer) +
                                           " pattern must be [B, H, Q, K], got " + t.shape_str());
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

HeadTypeReport detect_head_types(const Model& model, std::string_view text,
                                 const AttentionPatternDetector& detector, const std::vector<int>& layers) {
  const std::vector<int> ls = detail::checked_layers(model, layers, "detect_head_types");
  const std::vector<int32_t> ids = detail::encode_text(model, text, "detect_head_types");
  if (detail::text_token_count(model, ids) < 2)
    fail(ErrorKind::InvalidArgument,
         "detect_head_types: the text is a single token; head types need at least 2 tokens "
         "(with one token every head attends to the same places)");
  HeadTypeReport report = classify_heads(detail::run_patterns(model, ids, ls), ids, detector);
  if (model.has_tokenizer()) report.str_tokens = model.tokenizer().to_str_tokens(ids);
  return report;
}

HeadTypeReport detect_head_types(const Model& model, std::string_view text, std::optional<double> threshold,
                                 const std::vector<int>& layers) {
  if (threshold) {
    detail::check_threshold(*threshold, "detect_head_types");
    return detect_head_types(model, text, AttentionPatternDetector::uniform_threshold(*threshold), layers);
  }
  return detect_head_types(model, text, AttentionPatternDetector(), layers);
}

// ---- custom patterns -----------------------------------------------------------------------

namespace {
void sort_matches(std::vector<PatternMatch>& m) {
  std::sort(m.begin(), m.end(), [](const PatternMatch& a, const PatternMatch& b) {
    if (a.score != b.score) return a.score > b.score;
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

std::vector<PatternMatch> find_attention_pattern(const Model& model, std::string_view text,
                                                 const PatternFn& pattern_fn, double threshold,
                                                 const std::vector<int>& layers) {
  detail::check_threshold(threshold, "find_attention_pattern");
  if (!pattern_fn) fail(ErrorKind::InvalidArgument, "find_attention_pattern: pattern_fn is empty");
  const std::vector<int> ls = detail::checked_layers(model, layers, "find_attention_pattern");
  const std::vector<int32_t> ids = detail::encode_text(model, text, "find_attention_pattern");
  return find_attention_pattern(detail::run_patterns(model, ids, ls), pattern_fn, threshold);
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

std::map<std::string, std::vector<PatternMatch>> PatternRegistry::detect_all(const Model& model, std::string_view text,
                                                                              const std::vector<int>& layers) const {
  const std::vector<int> ls = detail::checked_layers(model, layers, "detect_all");
  const std::vector<int32_t> ids = detail::encode_text(model, text, "detect_all");
  return detect_all(detail::run_patterns(model, ids, ls));
}

PatternRegistry PatternRegistry::with_builtin() {
  PatternRegistry r;
  r.register_pattern(kPreviousToken, [](const Tensor& a) { return previous_token_score(a); }, 0.5);
  r.register_pattern(kFirstToken, [](const Tensor& a) { return first_token_score(a); }, 0.3);
  r.register_pattern(kCurrentToken, [](const Tensor& a) { return current_token_score(a); }, 0.3);
  return r;
}

}  // namespace attnscope
