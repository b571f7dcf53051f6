// The explorer's views beyond the weights for one model run (attribution.h explorer_analysis).
#include <cstdio>
#include <set>
#include <string>
#include <tuple>

#include "attnscope/attribution.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/predictions.h"

namespace attnscope {

namespace {

constexpr int kEdgesPerHead = 8;
constexpr int kMaxHeadsForComposition = 1024;

// [T, L, H] head parts of a [C, T] attribution, by their labels.
Tensor head_parts(const Tensor& attrs, const std::vector<std::string>& labels, int L, int H) {
  const int64_t T = attrs.dim(1);
  Tensor out({T, L, H});
  for (size_t c = 0; c < labels.size(); ++c) {
    int l = -1, h = -1;
    char tail = 0;
    if (std::sscanf(labels[c].c_str(), "L%dH%d%c", &l, &h, &tail) != 2) continue;
    for (int64_t p = 0; p < T; ++p) out.data()[(p * L + l) * H + h] = attrs.data()[c * T + p];
  }
  return out;
}

}  // namespace

ExplorerAnalysis explorer_analysis(const Model& model, const std::vector<int32_t>& ids,
                                   const std::map<int, Tensor>& patterns) {
  const ModelConfig& c = model.config();
  RunOptions ro;
  ro.capture = resid_decomposition_hooks(model);
  for (const auto& h : value_weighted_hooks(model)) ro.capture.push_back(h);
  const Trace t = model.run(ids, ro);
  ExplorerAnalysis a;
  for (const auto& [l, vw] : value_weighted_patterns(model, t, true))
    if (patterns.count(l)) a.value_weighted.emplace(l, vw);
  a.rollout = attention_rollout(t.attention_patterns());

  const int64_t T = static_cast<int64_t>(ids.size()), V = t.logits.dim(2);
  const ResidStack rs = get_full_resid_decomposition(model, t);
  const Tensor normalized = apply_ln_to_stack(model, t, rs.stack);
  std::vector<int32_t> top(static_cast<size_t>(T)), next(static_cast<size_t>(T));
  ExplorerDla pred{"top prediction", {}, {}}, actual{"next token", {}, {}};
  for (int64_t p = 0; p < T; ++p) {
    top[p] = top_k_logits(t.logits.data() + p * V, V, 1, false)[0].id;
    next[p] = p + 1 < T ? ids[p + 1] : top[p];
    const auto str = [&](int32_t id) {
      return model.has_tokenizer() ? token_to_str(model, id) : "#" + std::to_string(id);
    };
    pred.targets.push_back(str(top[p]));
    actual.targets.push_back(p + 1 < T ? str(next[p]) : "");
  }
  pred.heads = head_parts(logit_attrs(model, normalized, top), rs.labels, c.n_layer, c.n_head);
  actual.heads = head_parts(logit_attrs(model, normalized, next), rs.labels, c.n_layer, c.n_head);
  a.dla = {pred, actual};

  if (c.n_layer >= 2 && c.n_layer * c.n_head <= kMaxHeadsForComposition) {
    const CompositionScores s = composition_scores(model);
    std::set<std::tuple<int, int, int, int, int>> seen;
    auto keep = [&](const std::vector<CompositionEdge>& edges) {
      for (const auto& e : edges)
        if (e.score > 0 &&
            seen.insert({e.src_layer, e.src_head, e.dst_layer, e.dst_head, static_cast<int>(e.kind)}).second)
          a.composition.push_back(
              {e.src_layer, e.src_head, e.dst_layer, e.dst_head, composition_kind_name(e.kind), e.score});
    };
    for (int l = 0; l < c.n_layer; ++l)
      for (int h = 0; h < c.n_head; ++h) {
        keep(s.top_edges(kEdgesPerHead, std::nullopt, std::make_pair(l, h)));
        keep(s.top_edges(kEdgesPerHead, std::nullopt, std::nullopt, std::make_pair(l, h)));
      }
  }
  return a;
}

}  // namespace attnscope
