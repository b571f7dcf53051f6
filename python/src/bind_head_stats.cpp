// Long prompts: streamed head statistics (head_stats.h) and selective capture (pattern_rows.h).
#include <optional>

#include "attnscope/error.h"
#include "attnscope/head_stats.h"
#include "attnscope/model.h"
#include "attnscope/pattern_rows.h"
#include "bindings.h"

namespace attnscope::python {

void bind_head_stats(py::module_& m) {
  py::class_<HeadStats>(m, "HeadStats")
      .def_property_readonly("n_layer", &HeadStats::n_layer)
      .def_property_readonly("n_head", &HeadStats::n_head)
      .def_static("names", &HeadStats::names)
      .def("value", &HeadStats::value, py::arg("name"), py::arg("layer"), py::arg("head"),
           py::arg("chance_corrected") = false)
      .def("rows", &HeadStats::rows, py::arg("name"), py::arg("layer"), py::arg("head"))
      .def(
          "table", [](const HeadStats& s, const std::string& name, bool cc) { return to_numpy(s.table(name, cc)); },
          py::arg("name"), py::arg("chance_corrected") = false)
      .def("distance_histogram", &HeadStats::distance_histogram, py::arg("layer"), py::arg("head"))
      .def("merge", &HeadStats::merge, py::arg("other"));
  m.def(
      "head_statistics",
      [](const Model& model, const std::vector<std::vector<int32_t>>& batch, bool exclude_bos,
         std::optional<int> seq_len, int sink_tokens, int local_window, int chunk) {
        HeadStatsOptions o;
        o.score.exclude_bos = exclude_bos;
        o.seq_len = seq_len;
        o.sink_tokens = sink_tokens;
        o.local_window = local_window;
        o.chunk = chunk;
        py::gil_scoped_release release;
        return head_statistics(model, batch, o);
      },
      py::arg("model"), py::arg("batch"), py::arg("exclude_bos") = false, py::arg("seq_len") = std::nullopt,
      py::arg("sink_tokens") = 1, py::arg("local_window") = 8, py::arg("chunk") = 0);
  // {layer: (values [B, heads, rows, K], indices or None, rows, heads)}
  m.def(
      "capture_pattern_rows",
      [](const Model& model, const std::vector<std::vector<int32_t>>& batch, const PatternSelection& sel, int chunk) {
        if (batch.empty()) throw Error(ErrorKind::InvalidArgument, "capture_pattern_rows: no prompts given");
        PatternRowCapture cap(model, sel, static_cast<int64_t>(batch[0].size()), static_cast<int64_t>(batch.size()));
        {
          RunOptions o;
          o.return_logits = false;
          o.pattern_observer = &cap;
          o.prefill_chunk = chunk;
          py::gil_scoped_release release;
          model.run_batch(batch, o);
        }
        py::dict out;
        for (const auto& [layer, p] : cap.layers()) {
          py::object indices = py::none();
          if (!p.indices.empty()) {
            py::array_t<int32_t> a(std::vector<py::ssize_t>(p.values.shape().begin(), p.values.shape().end()));
            std::copy(p.indices.begin(), p.indices.end(), a.mutable_data());
            indices = a;
          }
          out[py::int_(layer)] = py::make_tuple(to_numpy(p.values), indices, p.rows, p.heads);
        }
        return out;
      },
      py::arg("model"), py::arg("batch"), py::arg("selection"), py::arg("chunk") = 0);
  py::class_<PatternSelection>(m, "PatternSelection")
      .def(py::init<>())
      .def_readwrite("layers", &PatternSelection::layers)
      .def_readwrite("heads", &PatternSelection::heads)
      .def_readwrite("rows", &PatternSelection::rows)
      .def_readwrite("last", &PatternSelection::last)
      .def_readwrite("every", &PatternSelection::every)
      .def_readwrite("key_begin", &PatternSelection::key_begin)
      .def_readwrite("key_end", &PatternSelection::key_end)
      .def_readwrite("top_k", &PatternSelection::top_k);
}

}  // namespace attnscope::python
