// compare_fidelity (fidelity.h): the same prompts through two runs of one model, compared head by
// head as the second run's patterns arrive, so one prompt's reference patterns are all that is held.
#include "attnscope/fidelity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "analysis/fidelity_detail.h"
#include "analysis/run_detail.h"
#include "attnscope/error.h"
#include "attnscope/hook_points.h"
#include "attnscope/model_config.h"

namespace attnscope {

void check_same_model(const Model& model, const Model& reference) {
  const std::string pair = model.source() + " and " + reference.source();
  const ModelConfig &a = model.config(), &b = reference.config();
  auto refuse = [&](const std::string& what) {
    fail(ErrorKind::InvalidArgument, "fidelity: " + pair + " are not the same model: " + what);
  };
  auto differ = [&](const char* what, int64_t x, int64_t y) {
    if (x != y) refuse(std::string(what) + " " + std::to_string(x) + " vs " + std::to_string(y));
  };
  differ("layers", a.n_layer, b.n_layer);
  differ("heads", a.n_head, b.n_head);
  differ("key/value heads", a.n_head_kv, b.n_head_kv);
  differ("head size", a.head_dim, b.head_dim);
  differ("embedding size", a.n_embd, b.n_embd);
  differ("vocabulary size", a.n_vocab, b.n_vocab);
  if (model.hook_names() != reference.hook_names()) refuse("their hook points differ");
  if (model.has_tokenizer() != reference.has_tokenizer()) refuse("only one has a tokenizer");
  if (model.has_tokenizer()) {
    const Tokenizer &ta = model.tokenizer(), &tb = reference.tokenizer();
    differ("tokenizer vocabulary size", ta.vocab_size(), tb.vocab_size());
    for (int32_t id = 0; id < ta.vocab_size(); ++id)
      if (ta.token_to_str(id) != tb.token_to_str(id))
        refuse("token " + std::to_string(id) + " is '" + ta.token_to_str(id) + "' vs '" + tb.token_to_str(id) + "'");
  }
}

std::vector<HeadFidelity> FidelityReport::worst_heads(const std::string& key) const {
  double HeadFidelity::*field = nullptr;
  if (key == "js_mean")
    field = &HeadFidelity::js_mean;
  else if (key == "js_max")
    field = &HeadFidelity::js_max;
  else if (key == "max_abs_delta")
    field = &HeadFidelity::max_abs_delta;
  else if (key == "mean_abs_delta")
    field = &HeadFidelity::mean_abs_delta;
  else
    fail(ErrorKind::InvalidArgument,
         "fidelity: unknown sort key '" + key + "' (js_mean, js_max, max_abs_delta, mean_abs_delta)");
  std::vector<HeadFidelity> out = heads;
  std::stable_sort(out.begin(), out.end(), [field](const HeadFidelity& x, const HeadFidelity& y) {
    const double a = x.*field, b = y.*field;
    if (std::isnan(a) != std::isnan(b)) return std::isnan(a);
    return a > b;
  });
  return out;
}

FidelityReport compare_fidelity(const Model& model, const Model& reference,
                                const std::vector<std::vector<int32_t>>& ids, const FidelityOptions& options) {
  check_same_model(model, reference);
  if (ids.empty()) fail(ErrorKind::InvalidArgument, "compare_fidelity: no prompts");
  FidelityReport report;
  report.model_source = model.source();
  report.reference_source = reference.source();
  report.model_dtype = model.dtype();
  report.reference_dtype = reference.dtype();
  report.model_path_note = describe_precision_path(precision_path(model));
  report.reference_path_note = describe_precision_path(precision_path(reference));
  report.n_layers = model.config().n_layer;
  report.n_heads = model.config().n_head;
  report.layers = detail::checked_layers(model, options.layers, "compare_fidelity");
  report.options = options;
  const int H = report.n_heads;
  std::map<int, std::vector<detail::HeadAccumulator>> acc;
  for (int l : report.layers) acc[l].resize(static_cast<size_t>(H));

  RunOptions ro;
  for (int l : report.layers) ro.capture.push_back(hook_name(HookPoint::AttnPattern, l));
  ro.layers = report.layers;
  for (size_t p = 0; p < ids.size(); ++p) {
    const std::vector<int32_t>& tokens = ids[p];
    if (tokens.empty()) fail(ErrorKind::InvalidArgument, "compare_fidelity: prompt " + std::to_string(p) + " is empty");
    PromptFidelity pf;
    pf.tokens = tokens;
    if (model.has_tokenizer()) pf.str_tokens = model.tokenizer().to_str_tokens(tokens);
    Trace ref = reference.run(tokens, ro);
    std::map<int, Tensor> ref_patterns = ref.attention_patterns();
    Tensor ref_logits = std::move(ref.logits);
    ref = Trace();  // the patterns are kept by the map alone; dropped layer by layer below
    RunOptions mo = ro;
    mo.capture_sink = [&](const std::string& name, const Tensor& value) {
      int layer = -1;
      if (std::sscanf(name.c_str(), "blocks.%d.", &layer) != 1) return;
      auto it = ref_patterns.find(layer);
      if (it == ref_patterns.end()) return;
      for (int h = 0; h < H; ++h)
        pf.max_abs_pattern_delta =
            detail::nan_max(pf.max_abs_pattern_delta,
                            detail::accumulate_head(acc[layer][static_cast<size_t>(h)], head_pattern(value, h, 0),
                                                    head_pattern(it->second, h, 0), tokens, options.detector));
      ref_patterns.erase(it);
    };
    const Trace mt = model.run(tokens, mo);
    if (!ref_patterns.empty())
      fail(ErrorKind::NotFound, "compare_fidelity: " + model.source() + " produced no pattern for layer " +
                                    std::to_string(ref_patterns.begin()->first));
    detail::compare_logits(mt.logits, ref_logits, pf);
    report.prompts.push_back(std::move(pf));
  }
  for (int l : report.layers)
    for (int h = 0; h < H; ++h)
      report.heads.push_back(detail::finish_head(l, h, acc[l][static_cast<size_t>(h)], options.detector));
  return report;
}

FidelityReport compare_fidelity(const Model& model, const Model& reference, const std::vector<std::string>& texts,
                                const FidelityOptions& options) {
  if (texts.empty()) fail(ErrorKind::InvalidArgument, "compare_fidelity: no prompts");
  std::vector<std::vector<int32_t>> ids;
  for (const std::string& t : texts) {
    if (options.add_bos) {
      ids.push_back(detail::encode_text(model, t, "compare_fidelity"));
    } else {
      if (t.empty()) fail(ErrorKind::InvalidArgument, "compare_fidelity: a prompt is empty");
      ids.push_back(model.encode(t, false));
      if (ids.back().empty()) fail(ErrorKind::InvalidArgument, "compare_fidelity: a prompt encodes to no token");
    }
  }
  return compare_fidelity(model, reference, ids, options);
}

}  // namespace attnscope
