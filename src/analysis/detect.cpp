// Whole-model detection: one traced run, then every head of the requested layers scored
// (the scoring of captured patterns is in classify.cpp).
#include <algorithm>
#include <cmath>
#include <string>

#include "analysis/run_detail.h"
#include "analysis/scores_detail.h"
#include "attnscope/analysis.h"
#include "attnscope/attribution.h"
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"

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
                                           " does not exist (the model has " + std::to_string(n) + " layers: 0.." +
                                           std::to_string(n - 1) + ")");
    out.push_back(l);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int32_t> encode_text(const Model& model, std::string_view text, const char* what) {
  if (text.empty()) fail(ErrorKind::InvalidArgument, std::string(what) + ": the text is empty");
  if (!model.has_tokenizer())
    fail(ErrorKind::InvalidArgument,
         std::string(what) + ": model " + model.source() + " has no tokenizer to encode the text");
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

WeightAndValuePatterns run_weight_and_value_patterns(const Model& model, const std::vector<int32_t>& ids,
                                                     const std::vector<int>& layers) {
  RunOptions ro;
  ro.capture = value_weighted_hooks(model, layers);
  ro.layers = layers;
  ro.return_logits = false;
  const Trace trace = model.run(ids, ro);
  WeightAndValuePatterns out{trace.attention_patterns(), value_weighted_patterns(model, trace, true)};
  for (int l : layers)
    if (!out.weight.count(l) || !out.value.count(l))
      fail(ErrorKind::NotFound, "the forward pass captured no attention pattern for layer " + std::to_string(l));
  return out;
}

std::map<int, Tensor> run_patterns(const Model& model, const std::vector<int32_t>& ids, const std::vector<int>& layers,
                                   AttentionWeighting weighting) {
  if (weighting == AttentionWeighting::Value) return run_weight_and_value_patterns(model, ids, layers).value;
  RunOptions ro;
  for (int l : layers) ro.capture.push_back(hook_name(HookPoint::AttnPattern, l));
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

const char* weighting_name(AttentionWeighting w) { return w == AttentionWeighting::Value ? "value" : "weight"; }

HeadTypeReport detect_head_types(const Model& model, std::string_view text, const AttentionPatternDetector& detector,
                                 const std::vector<int>& layers) {
  const std::vector<int> ls = detail::checked_layers(model, layers, "detect_head_types");
  const std::vector<int32_t> ids = detail::encode_text(model, text, "detect_head_types");
  if (detail::text_token_count(model, ids) < 2)
    fail(ErrorKind::InvalidArgument,
         "detect_head_types: the text is a single token; head types need at least 2 tokens "
         "(with one token every head attends to the same places)");
  const detail::WeightAndValuePatterns both = detail::run_weight_and_value_patterns(model, ids, ls);
  const bool by_value = detector.weighting == AttentionWeighting::Value;
  HeadTypeReport report = classify_heads(by_value ? both.value : both.weight, ids, detector);
  for (HeadReport& h : report.heads) {
    const double w = first_token_score(head_pattern(both.weight.at(h.layer), h.head), detector.options);
    const double v = first_token_score(head_pattern(both.value.at(h.layer), h.head), detector.options);
    h.value_first_token = v;
    h.sink = w >= detector.first_token_threshold() && v < detector.first_token_threshold();
  }
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

std::vector<PatternMatch> find_attention_pattern(const Model& model, std::string_view text, const PatternFn& pattern_fn,
                                                 double threshold, const std::vector<int>& layers,
                                                 AttentionWeighting weighting) {
  detail::check_threshold(threshold, "find_attention_pattern");
  if (!pattern_fn) fail(ErrorKind::InvalidArgument, "find_attention_pattern: pattern_fn is empty");
  const std::vector<int> ls = detail::checked_layers(model, layers, "find_attention_pattern");
  const std::vector<int32_t> ids = detail::encode_text(model, text, "find_attention_pattern");
  return find_attention_pattern(detail::run_patterns(model, ids, ls, weighting), pattern_fn, threshold);
}

std::map<std::string, std::vector<PatternMatch>> PatternRegistry::detect_all(const Model& model, std::string_view text,
                                                                             const std::vector<int>& layers,
                                                                             AttentionWeighting weighting) const {
  const std::vector<int> ls = detail::checked_layers(model, layers, "detect_all");
  const std::vector<int32_t> ids = detail::encode_text(model, text, "detect_all");
  return detect_all(detail::run_patterns(model, ids, ls, weighting));
}

}  // namespace attnscope
