// Long-context head types (long_context.h): attention sinks, retrieval heads and induction by
// repeat distance. Reports come out as small classes with numpy arrays and the C++ formatters;
// the attnscope.long_context module wraps them (DataFrames, defaults, InterpretableModel).
#include "attnscope/long_context.h"
#include "attnscope/model.h"
#include "bindings.h"

namespace attnscope::python {

namespace {

// A copy (the report may go away while the array lives).
py::array_t<float> copy_numpy(const Tensor& t) { return to_numpy(t.clone()); }

}  // namespace

void bind_long_context(py::module_& m) {
  py::class_<SinkReport>(m, "SinkReport")
      .def_property_readonly("lengths",
                             [](const SinkReport& r) {
                               std::vector<int> v;
                               for (const SinkLength& s : r.by_length) v.push_back(s.length);
                               return v;
                             })
      .def_property_readonly("layers", [](const SinkReport& r) { return r.layers; })
      .def_property_readonly("sink_tokens", [](const SinkReport& r) { return r.options.sink_tokens; })
      .def_property_readonly("epsilon", [](const SinkReport& r) { return r.options.epsilon; })
      .def_property_readonly("mass",
                             [](const SinkReport& r) {  // [n_lengths, L, H]
                               const int64_t N = static_cast<int64_t>(r.by_length.size());
                               const int64_t L = r.mean_mass.dim(0), H = r.mean_mass.dim(1);
                               Tensor t({N, L, H});
                               for (int64_t i = 0; i < N; ++i)
                                 std::copy(r.by_length[i].mass.data(), r.by_length[i].mass.data() + L * H,
                                           t.data() + i * L * H);
                               return to_numpy(t);
                             })
      .def_property_readonly("mean_mass", [](const SinkReport& r) { return copy_numpy(r.mean_mass); })
      .def_property_readonly("rate_by_length",
                             [](const SinkReport& r) {
                               std::vector<double> v;
                               for (const SinkLength& s : r.by_length) v.push_back(s.rate);
                               return v;
                             })
      .def_property_readonly("layer_rate_by_length",
                             [](const SinkReport& r) {
                               std::vector<std::vector<double>> v;
                               for (const SinkLength& s : r.by_length) v.push_back(s.layer_rate);
                               return v;
                             })
      .def_property_readonly("rate", [](const SinkReport& r) { return r.rate; })
      .def("to_json", [](const SinkReport& r) { return format_report(r, ReportFormat::Json); })
      .def("to_csv", [](const SinkReport& r) { return format_report(r, ReportFormat::Csv); })
      .def("table", [](const SinkReport& r) { return format_report(r, ReportFormat::Table); })
      .def("save_figure", [](const SinkReport& r, const std::string& p) { save_sink_figure(p, r); })
      .def("save_length_figure", [](const SinkReport& r, const std::string& p) { save_sink_length_figure(p, r); });

  py::class_<RetrievalReport>(m, "RetrievalReport")
      .def_property_readonly("score", [](const RetrievalReport& r) { return copy_numpy(r.score); })
      .def_property_readonly("accuracy", [](const RetrievalReport& r) { return r.accuracy; })
      .def_property_readonly("needle", [](const RetrievalReport& r) { return r.options.needle; })
      .def_property_readonly("layers", [](const RetrievalReport& r) { return r.layers; })
      .def_property_readonly("heads",
                             [](const RetrievalReport& r) {
                               py::list out;
                               for (const RetrievalHead& h : r.heads)
                                 out.append(py::make_tuple(h.layer, h.head, h.score));
                               return out;
                             })
      .def_property_readonly("trials",
                             [](const RetrievalReport& r) {
                               py::list out;
                               for (const RetrievalTrial& t : r.trials) {
                                 py::dict d;
                                 d["length"] = t.length;
                                 d["depth"] = t.depth;
                                 d["needle_start"] = t.needle_start;
                                 d["answer_tokens"] = t.answer_tokens;
                                 d["accuracy"] = t.accuracy;
                                 d["score"] = copy_numpy(t.score);
                                 out.append(d);
                               }
                               return out;
                             })
      .def("to_json", [](const RetrievalReport& r) { return format_report(r, ReportFormat::Json); })
      .def("to_csv", [](const RetrievalReport& r) { return format_report(r, ReportFormat::Csv); })
      .def("table", [](const RetrievalReport& r) { return format_report(r, ReportFormat::Table); })
      .def("save_figure", [](const RetrievalReport& r, const std::string& p) { save_retrieval_figure(p, r); });

  py::class_<LongInductionReport>(m, "LongInductionReport")
      .def_property_readonly("lengths", [](const LongInductionReport& r) { return r.options.lengths; })
      .def_property_readonly("layers", [](const LongInductionReport& r) { return r.layers; })
      .def_property_readonly("score", [](const LongInductionReport& r) { return copy_numpy(r.score); })
      .def("to_json", [](const LongInductionReport& r) { return format_report(r, ReportFormat::Json); })
      .def("to_csv", [](const LongInductionReport& r) { return format_report(r, ReportFormat::Csv); })
      .def("table", [](const LongInductionReport& r) { return format_report(r, ReportFormat::Table); })
      .def(
          "save_figure",
          [](const LongInductionReport& r, const std::string& p, double min_score) {
            save_induction_length_figure(p, r, min_score);
          },
          py::arg("path"), py::arg("min_score") = 0.3);

  m.def(
      "attention_sinks",
      [](const Model& model, const std::vector<int32_t>& tokens, const std::vector<int>& lengths, int sink_tokens,
         double epsilon, const std::vector<int>& layers) {
        SinkOptions o;
        o.lengths = lengths;
        o.sink_tokens = sink_tokens;
        o.epsilon = epsilon;
        o.layers = layers;
        py::gil_scoped_release release;
        return attention_sinks(model, tokens, o);
      },
      py::arg("model"), py::arg("tokens"), py::arg("lengths") = std::vector<int>{}, py::arg("sink_tokens") = 1,
      py::arg("epsilon") = 0.3, py::arg("layers") = std::vector<int>{});
  m.def(
      "retrieval_heads",
      [](const Model& model, const std::vector<int32_t>& haystack, const std::vector<int>& lengths,
         const std::vector<double>& depths, const std::vector<int32_t>& needle, int needle_tokens,
         const std::vector<int32_t>& question, int cue_tokens, bool generate, double threshold, uint64_t seed,
         const std::vector<int>& layers) {
        RetrievalOptions o;
        o.lengths = lengths;
        o.depths = depths;
        o.needle = needle;
        o.needle_tokens = needle_tokens;
        o.question = question;
        o.cue_tokens = cue_tokens;
        o.generate = generate;
        o.threshold = threshold;
        o.seed = seed;
        o.layers = layers;
        py::gil_scoped_release release;
        return retrieval_heads(model, haystack, o);
      },
      py::arg("model"), py::arg("haystack"), py::arg("lengths"), py::arg("depths"), py::arg("needle"),
      py::arg("needle_tokens"), py::arg("question"), py::arg("cue_tokens"), py::arg("generate"), py::arg("threshold"),
      py::arg("seed"), py::arg("layers"));
  m.def(
      "induction_by_length",
      [](const Model& model, const std::vector<int>& lengths, uint64_t seed, bool distinct_tokens, bool exclude_bos,
         bool chance_corrected, const std::vector<int>& layers) {
        LongInductionOptions o;
        o.lengths = lengths;
        o.seed = seed;
        o.distinct_tokens = distinct_tokens;
        o.score = ScoreOptions{exclude_bos, chance_corrected};
        o.layers = layers;
        py::gil_scoped_release release;
        return induction_by_length(model, o);
      },
      py::arg("model"), py::arg("lengths"), py::arg("seed") = 42, py::arg("distinct_tokens") = true,
      py::arg("exclude_bos") = false, py::arg("chance_corrected") = true, py::arg("layers") = std::vector<int>{});
  m.def(
      "random_content_tokens",
      [](const Model& model, int64_t n, uint64_t seed, const std::vector<int32_t>& exclude) {
        return random_content_tokens(model, n, seed, exclude);
      },
      py::arg("model"), py::arg("n"), py::arg("seed") = 42, py::arg("exclude") = std::vector<int32_t>{});
}

}  // namespace attnscope::python
