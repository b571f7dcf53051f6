// The fidelity report (fidelity.h): Python gets the report object the CLI prints, so its numbers,
// JSON, CSV and figure are the command's.
#include <variant>

#include "attnscope/fidelity.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "bindings.h"

namespace attnscope::python {

void bind_fidelity(py::module_& m) {
  py::class_<FidelityReport>(m, "FidelityReport")
      .def("to_json", [](const FidelityReport& r) { return format_fidelity(r, ReportFormat::Json); })
      .def("to_csv", [](const FidelityReport& r) { return format_fidelity(r, ReportFormat::Csv); })
      .def(
          "table",
          [](const FidelityReport& r, const std::string& sort, int top) {
            return format_fidelity(r, ReportFormat::Table, sort, top);
          },
          py::arg("sort") = "js_mean", py::arg("top") = 10)
      .def(
          "save_figure", [](const FidelityReport& r, const std::string& path) { return save_fidelity_figure(path, r); },
          py::arg("path"));

  m.def(
      "compare_fidelity",
      [](const Model& model, const Model& reference,
         const std::variant<std::vector<std::string>, std::vector<std::vector<int32_t>>>& prompts,
         const std::vector<int>& layers, bool add_bos, bool chance_corrected, bool exclude_bos) {
        FidelityOptions o;
        o.layers = layers;
        o.add_bos = add_bos;
        o.detector.options.chance_corrected = chance_corrected;
        o.detector.options.exclude_bos = exclude_bos;
        py::gil_scoped_release release;
        if (const auto* texts = std::get_if<std::vector<std::string>>(&prompts))
          return compare_fidelity(model, reference, *texts, o);
        return compare_fidelity(model, reference, std::get<std::vector<std::vector<int32_t>>>(prompts), o);
      },
      py::arg("model"), py::arg("reference"), py::arg("prompts"), py::arg("layers") = std::vector<int>{},
      py::arg("add_bos") = true, py::arg("chance_corrected") = true, py::arg("exclude_bos") = false);
  m.def("lossy_path_warning", &lossy_path_warning, py::arg("model"));
  // The quantised copies a fidelity comparison is usually about (llama-quantize's recipes).
  m.def(
      "quantize_gguf_file",
      [](const std::string& src, const std::string& dst, const std::string& ftype) {
        py::gil_scoped_release release;
        quantize_gguf_file(src, dst, ftype);
      },
      py::arg("src"), py::arg("dst"), py::arg("ftype"));
}

}  // namespace attnscope::python
