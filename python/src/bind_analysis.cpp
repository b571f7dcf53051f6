// Pattern scores, the head-type detector, the induction scan, custom patterns and summaries,
// so that Python reports the very numbers the C++ API and the CLI report.
#include "attnscope/analysis.h"
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "bindings.h"

namespace attnscope::python {

namespace {

ScoreOptions opts(bool exclude_bos, bool chance_corrected) { return ScoreOptions{exclude_bos, chance_corrected}; }

Tensor matrix(const py::handle& a) {
  Tensor t = from_numpy(a);
  if (t.ndim() != 2)
    throw Error(ErrorKind::InvalidArgument, "a head's pattern must be 2-D [q, k], got " + t.shape_str() +
                                                "; take one head with patterns[layer][batch, head]");
  return t;
}

std::map<int, Tensor> pattern_map(const py::dict& patterns) {
  std::map<int, Tensor> out;
  for (const auto& [k, v] : patterns) out[k.cast<int>()] = from_numpy(v);
  return out;
}

py::dict scores_dict(const HeadScores& s) {
  py::dict d;
  for (const auto& [k, v] : s.to_map()) d[py::str(k)] = v;
  return d;
}

py::dict report_dict(const HeadTypeReport& r) {
  py::dict d;
  py::dict by_type;
  for (const auto& [type, heads] : r.by_type()) by_type[py::str(type)] = heads;
  d["by_type"] = by_type;
  py::list heads;
  for (const auto& h : r.heads)
    heads.append(py::make_tuple(h.layer, h.head, scores_dict(h.scores), h.types, h.entropy,
                                h.value_first_token ? py::cast(*h.value_first_token) : py::none(), h.sink));
  d["heads"] = heads;
  d["tokens"] = r.tokens;
  d["str_tokens"] = r.str_tokens;
  d["has_repeats"] = r.has_repeats;
  d["json"] = format_report(r, ReportFormat::Json);
  d["csv"] = format_report(r, ReportFormat::Csv);
  d["table"] = format_report(r, ReportFormat::Table);
  return d;
}

py::list induction_list(const std::vector<InductionHead>& heads) {
  py::list out;
  for (const auto& h : heads) out.append(py::make_tuple(h.layer, h.head, h.score, h.stddev, h.min, h.max));
  return out;
}

HeadContext context(const py::object& seq_len, const py::object& tokens) {
  HeadContext c;
  if (!seq_len.is_none()) c.seq_len = seq_len.cast<int>();
  if (!tokens.is_none()) c.tokens = tokens.cast<std::vector<int32_t>>();
  return c;
}

PatternFn python_pattern_fn(py::function fn) {
  // Called with the GIL held (find_attention_pattern below runs without releasing it).
  return [fn](const Tensor& pattern) { return fn(to_numpy(pattern.clone())).cast<double>(); };
}

}  // namespace

void bind_analysis(py::module_& m) {
  m.def(
      "previous_token_score",
      [](const py::handle& a, bool eb, bool cc) { return previous_token_score(matrix(a), opts(eb, cc)); },
      py::arg("pattern"), py::arg("exclude_bos") = false, py::arg("chance_corrected") = false);
  m.def(
      "first_token_score",
      [](const py::handle& a, bool eb, bool cc) { return first_token_score(matrix(a), opts(eb, cc)); },
      py::arg("pattern"), py::arg("exclude_bos") = false, py::arg("chance_corrected") = false);
  m.def(
      "current_token_score",
      [](const py::handle& a, bool eb, bool cc) { return current_token_score(matrix(a), opts(eb, cc)); },
      py::arg("pattern"), py::arg("exclude_bos") = false, py::arg("chance_corrected") = false);
  m.def(
      "induction_score",
      [](const py::handle& a, int seq_len, bool eb, bool cc) {
        return induction_score(matrix(a), seq_len, opts(eb, cc));
      },
      py::arg("pattern"), py::arg("seq_len"), py::arg("exclude_bos") = false, py::arg("chance_corrected") = false);
  m.def(
      "induction_score_tokens",
      [](const py::handle& a, const std::vector<int32_t>& tokens, bool eb, bool cc) {
        return induction_score(matrix(a), tokens, opts(eb, cc));
      },
      py::arg("pattern"), py::arg("tokens"), py::arg("exclude_bos") = false, py::arg("chance_corrected") = false);
  m.def(
      "duplicate_token_score",
      [](const py::handle& a, const std::vector<int32_t>& tokens, bool eb, bool cc) {
        return duplicate_token_score(matrix(a), tokens, opts(eb, cc));
      },
      py::arg("pattern"), py::arg("tokens"), py::arg("exclude_bos") = false, py::arg("chance_corrected") = false);
  m.def(
      "uniform_causal_pattern", [](int64_t n) { return to_numpy(uniform_causal_pattern(n)); }, py::arg("length"));
  m.def(
      "pattern_entropy", [](const py::handle& a) { return pattern_entropy(matrix(a)); }, py::arg("pattern"));
  m.def(
      "normalized_pattern_entropy", [](const py::handle& a) { return normalized_pattern_entropy(matrix(a)); },
      py::arg("pattern"));

  py::class_<AttentionPatternDetector>(m, "AttentionPatternDetector")
      .def(py::init<double, double, double, double, double>(), py::arg("induction_threshold") = 0.4,
           py::arg("previous_token_threshold") = 0.5, py::arg("first_token_threshold") = 0.3,
           py::arg("current_token_threshold") = 0.3, py::arg("duplicate_token_threshold") = 0.3)
      .def_property(
          "exclude_bos", [](const AttentionPatternDetector& d) { return d.options.exclude_bos; },
          [](AttentionPatternDetector& d, bool v) { d.options.exclude_bos = v; })
      .def_property(
          "chance_corrected", [](const AttentionPatternDetector& d) { return d.options.chance_corrected; },
          [](AttentionPatternDetector& d, bool v) { d.options.chance_corrected = v; })
      .def_property(
          "weighting", [](const AttentionPatternDetector& d) { return std::string(weighting_name(d.weighting)); },
          [](AttentionPatternDetector& d, const std::string& v) {
            if (v != "weight" && v != "value")
              throw Error(ErrorKind::InvalidArgument, "weighting must be 'weight' or 'value', got '" + v + "'");
            d.weighting = v == "value" ? AttentionWeighting::Value : AttentionWeighting::Weight;
          })
      .def("threshold", &AttentionPatternDetector::threshold, py::arg("type"))
      .def(
          "analyze_head",
          [](const AttentionPatternDetector& d, const py::handle& a, const py::object& seq_len,
             const py::object& tokens) { return scores_dict(d.analyze_head(matrix(a), context(seq_len, tokens))); },
          py::arg("pattern"), py::arg("seq_len") = py::none(), py::arg("tokens") = py::none())
      .def(
          "classify_head",
          [](const AttentionPatternDetector& d, const py::handle& a, const py::object& seq_len,
             const py::object& tokens) { return d.classify_head(matrix(a), context(seq_len, tokens)); },
          py::arg("pattern"), py::arg("seq_len") = py::none(), py::arg("tokens") = py::none());

  m.def(
      "classify_heads",
      [](const py::dict& patterns, const std::vector<int32_t>& tokens, const AttentionPatternDetector& d) {
        return report_dict(classify_heads(pattern_map(patterns), tokens, d));
      },
      py::arg("patterns"), py::arg("tokens"), py::arg("detector"));
  m.def(
      "detect_head_types",
      [](const Model& model, const std::string& text, const AttentionPatternDetector& d,
         const std::vector<int>& layers) {
        HeadTypeReport r;
        {
          py::gil_scoped_release release;
          r = detect_head_types(model, text, d, layers);
        }
        return report_dict(r);
      },
      py::arg("model"), py::arg("text"), py::arg("detector"), py::arg("layers") = std::vector<int>{});
  m.def(
      "detect_induction_heads",
      [](const Model& model, int n_random_tokens, int n_repeats, double threshold, uint64_t seed,
         const std::vector<int>& layers, int n_seeds, bool distinct_tokens, bool exclude_bos, bool chance_corrected) {
        InductionOptions o;
        o.n_random_tokens = n_random_tokens;
        o.n_repeats = n_repeats;
        o.threshold = threshold;
        o.seed = seed;
        o.layers = layers;
        o.n_seeds = n_seeds;
        o.distinct_tokens = distinct_tokens;
        o.score = ScoreOptions{exclude_bos, chance_corrected};
        InductionScan scan;
        {
          py::gil_scoped_release release;
          scan = detect_induction_heads(model, o);
        }
        py::dict d;
        d["heads"] = induction_list(scan.heads);
        d["all"] = induction_list(scan.all);
        d["sequences"] = scan.sequences;
        d["json"] = format_report(scan, ReportFormat::Json);
        d["table"] = format_report(scan, ReportFormat::Table);
        return d;
      },
      py::arg("model"), py::arg("n_random_tokens") = 50, py::arg("n_repeats") = 2, py::arg("threshold") = 0.3,
      py::arg("seed") = 42, py::arg("layers") = std::vector<int>{}, py::arg("n_seeds") = 1,
      py::arg("distinct_tokens") = true, py::arg("exclude_bos") = false, py::arg("chance_corrected") = true);
  m.def("random_token_pool", &random_token_pool, py::arg("model"));
  m.def("random_repeated_tokens", &random_repeated_tokens, py::arg("pool"), py::arg("bos"), py::arg("n_random_tokens"),
        py::arg("n_repeats"), py::arg("seed"), py::arg("distinct") = true);
  m.def(
      "find_attention_pattern",
      [](const py::dict& patterns, py::function fn, double threshold) {
        py::list out;
        for (const auto& pm : find_attention_pattern(pattern_map(patterns), python_pattern_fn(fn), threshold))
          out.append(py::make_tuple(pm.layer, pm.head, pm.score));
        return out;
      },
      py::arg("patterns"), py::arg("pattern_fn"), py::arg("threshold") = 0.3);
  m.def(
      "layer_attention_summary",
      [](const py::handle& patterns, int layer, int batch) {
        LayerSummary s = layer_attention_summary(from_numpy(patterns), layer, batch);
        return py::make_tuple(to_numpy(s.mean), to_numpy(s.max), s.entropy, s.norm_entropy);
      },
      py::arg("patterns"), py::arg("layer") = 0, py::arg("batch") = 0);
}

}  // namespace attnscope::python
