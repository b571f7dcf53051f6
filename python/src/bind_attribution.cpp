// Value-weighted attention, direct logit attribution, composition scores, rollout and flow
// (attribution.h), so Python reports the very numbers the C++ API and the CLI report.
#include "attnscope/analysis.h"
#include "attnscope/attribution.h"
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "bindings.h"

namespace attnscope::python {

namespace {

py::dict tensor_map(const std::map<int, Tensor>& m) {
  py::dict d;
  for (const auto& [k, v] : m) d[py::int_(k)] = to_numpy(v);
  return d;
}

std::map<int, Tensor> pattern_map(const py::dict& patterns) {
  std::map<int, Tensor> out;
  for (const auto& [k, v] : patterns) out[k.cast<int>()] = from_numpy(v);
  return out;
}

CompositionKind kind_of(const std::string& s) {
  if (s == "Q" || s == "q") return CompositionKind::Q;
  if (s == "K" || s == "k") return CompositionKind::K;
  if (s == "V" || s == "v") return CompositionKind::V;
  throw Error(ErrorKind::InvalidArgument, "composition mode must be 'Q', 'K' or 'V', got '" + s + "'");
}

py::list edge_list(const std::vector<CompositionEdge>& edges) {
  py::list out;
  for (const auto& e : edges)
    out.append(
        py::make_tuple(e.src_layer, e.src_head, e.dst_layer, e.dst_head, composition_kind_name(e.kind), e.score));
  return out;
}

}  // namespace

void bind_attribution(py::module_& m) {
  m.def("value_weighted_hooks", &value_weighted_hooks, py::arg("model"), py::arg("layers") = std::vector<int>{});
  m.def(
      "value_vector_norms", [](const Model& model, const Trace& t) { return tensor_map(value_vector_norms(model, t)); },
      py::arg("model"), py::arg("trace"));
  m.def(
      "value_weighted_patterns",
      [](const Model& model, const Trace& t, bool normalized) {
        return tensor_map(value_weighted_patterns(model, t, normalized));
      },
      py::arg("model"), py::arg("trace"), py::arg("normalized") = false);

  m.def("resid_decomposition_hooks", &resid_decomposition_hooks, py::arg("model"));
  m.def(
      "get_full_resid_decomposition",
      [](const Model& model, const Trace& t, int batch) {
        ResidStack s = get_full_resid_decomposition(model, t, batch);
        return py::make_tuple(to_numpy(s.stack), s.labels);
      },
      py::arg("model"), py::arg("trace"), py::arg("batch") = 0);
  m.def(
      "apply_ln_to_stack",
      [](const Model& model, const Trace& t, const py::handle& stack, int batch) {
        return to_numpy(apply_ln_to_stack(model, t, from_numpy(stack), batch));
      },
      py::arg("model"), py::arg("trace"), py::arg("stack"), py::arg("batch") = 0);
  m.def(
      "logit_attrs",
      [](const Model& model, const py::handle& stack, const std::vector<int32_t>& tokens,
         const std::vector<int32_t>& minus) { return to_numpy(logit_attrs(model, from_numpy(stack), tokens, minus)); },
      py::arg("model"), py::arg("stack"), py::arg("tokens"), py::arg("minus") = std::vector<int32_t>{});
  m.def(
      "direct_logit_attribution",
      [](const Model& model, const std::vector<int32_t>& ids, int32_t token, std::optional<int32_t> minus,
         const std::vector<int>& positions) {
        DirectLogitAttribution r;
        {
          py::gil_scoped_release release;
          r = direct_logit_attribution(model, ids, token, minus, positions);
        }
        py::dict d;
        d["labels"] = r.labels;
        d["attribution"] = to_numpy(r.attribution);
        d["heads"] = to_numpy(r.heads);
        d["mlp"] = to_numpy(r.mlp);
        d["logit"] = r.logit;
        d["positions"] = r.positions;
        d["str_tokens"] = r.str_tokens;
        return d;
      },
      py::arg("model"), py::arg("ids"), py::arg("token"), py::arg("minus") = py::none(),
      py::arg("positions") = std::vector<int>{});

  m.def(
      "all_composition_scores",
      [](const Model& model, const std::string& mode) {
        Tensor t;
        {
          py::gil_scoped_release release;
          t = all_composition_scores(model, kind_of(mode));
        }
        return to_numpy(t);
      },
      py::arg("model"), py::arg("mode"));
  m.def(
      "composition_scores",
      [](const Model& model, int top) {
        CompositionScores s;
        {
          py::gil_scoped_release release;
          s = composition_scores(model);
        }
        py::dict d;
        d["Q"] = to_numpy(s.q);
        d["K"] = to_numpy(s.k);
        d["V"] = to_numpy(s.v);
        d["top_edges"] = edge_list(s.top_edges(top));
        return d;
      },
      py::arg("model"), py::arg("top") = 20);
  m.def(
      "top_composition_edges",
      [](const py::dict& scores, int n, const std::string& kind, const py::object& into, const py::object& out_of) {
        CompositionScores s{from_numpy(scores["Q"]), from_numpy(scores["K"]), from_numpy(scores["V"])};
        std::optional<CompositionKind> k;
        if (!kind.empty()) k = kind_of(kind);
        std::optional<std::pair<int, int>> i, o;
        if (!into.is_none()) i = into.cast<std::pair<int, int>>();
        if (!out_of.is_none()) o = out_of.cast<std::pair<int, int>>();
        return edge_list(s.top_edges(n, k, i, o));
      },
      py::arg("scores"), py::arg("n"), py::arg("kind") = "", py::arg("into") = py::none(),
      py::arg("out_of") = py::none());

  m.def(
      "attention_rollout",
      [](const py::dict& patterns, int batch) { return to_numpy(attention_rollout(pattern_map(patterns), batch)); },
      py::arg("patterns"), py::arg("batch") = 0);
  m.def(
      "attention_flow",
      [](const py::dict& patterns, const std::vector<int>& queries, int batch) {
        return to_numpy(attention_flow(pattern_map(patterns), queries, batch));
      },
      py::arg("patterns"), py::arg("queries") = std::vector<int>{}, py::arg("batch") = 0);
}

}  // namespace attnscope::python
