// The interactive explorer and the cairo figures for Python.
#include "attnscope/attribution.h"
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/viz.h"
#include "bindings.h"

namespace attnscope::python {

namespace {

std::map<int, Tensor> pattern_map(const py::dict& patterns) {
  std::map<int, Tensor> out;
  for (const auto& [k, v] : patterns) out[k.cast<int>()] = from_numpy(v);
  return out;
}

FigureOptions figure_options(const std::string& colormap, bool mask_upper, const py::object& vmin,
                             const py::object& vmax, const std::string& title, const std::string& notation) {
  FigureOptions o;
  o.colormap = colormap;
  o.mask_upper = mask_upper;
  if (!vmin.is_none()) o.vmin = vmin.cast<double>();
  if (!vmax.is_none()) o.vmax = vmax.cast<double>();
  o.title = title;
  if (notation == "dot")
    o.notation = HeadNotation::Dot;
  else if (notation == "LH" || notation == "standard")
    o.notation = HeadNotation::LH;
  else
    throw Error(ErrorKind::InvalidArgument, "head_notation must be 'LH' or 'dot', not '" + notation + "'");
  return o;
}

}  // namespace

void bind_viz(py::module_& m) {
  m.def("colormap_names", &Colormap::names);
  m.def(
      "colormap_hex", [](const std::string& name, double t) { return Colormap::by_name(name).hex(t); }, py::arg("name"),
      py::arg("t"));
  m.def(
      "head_label",
      [](int layer, int head, const std::string& notation) {
        return head_label(layer, head, notation == "dot" ? HeadNotation::Dot : HeadNotation::LH);
      },
      py::arg("layer"), py::arg("head"), py::arg("notation") = "LH");
  // marks: [(layer, head, label, score)]
  m.def(
      "explorer_html",
      [](const py::dict& patterns, const std::vector<std::string>& tokens, const std::string& title,
         const std::string& colormap, int bits, int batch, int heatmap_size,
         const std::vector<std::tuple<int, int, std::string, double>>& marks, const std::string& subtitle,
         const Model* model, const std::vector<int32_t>& ids) {
        ExplorerOptions o;
        o.title = title;
        o.colormap = colormap;
        o.bits = bits;
        o.batch = batch;
        o.heatmap_size = heatmap_size;
        o.subtitle = subtitle;
        for (const auto& [l, h, label, score] : marks) o.head_types.push_back({l, h, label, score});
        auto map = pattern_map(patterns);
        py::gil_scoped_release release;
        // With the model and the token ids of the run: the views beyond the weights (attribution.h).
        if (model && !ids.empty()) o.analysis = explorer_analysis(*model, ids, map);
        return explorer_html(map, tokens, o);
      },
      py::arg("patterns"), py::arg("tokens"), py::arg("title"), py::arg("colormap") = "Blues", py::arg("bits") = 0,
      py::arg("batch") = 0, py::arg("heatmap_size") = 440,
      py::arg("marks") = std::vector<std::tuple<int, int, std::string, double>>{}, py::arg("subtitle") = "",
      py::arg("model") = nullptr, py::arg("ids") = std::vector<int32_t>{});
  m.def(
      "save_head_heatmap",
      [](const std::string& path, const py::handle& pattern, int layer, int head,
         const std::vector<std::string>& tokens, const std::string& colormap, bool mask_upper, const py::object& vmin,
         const py::object& vmax, const std::string& title, const std::string& notation) {
        FigureOptions o = figure_options(colormap, mask_upper, vmin, vmax, title, notation);
        Tensor t = from_numpy(pattern);
        py::gil_scoped_release release;
        save_head_heatmap(path, t, layer, head, tokens, o);
      },
      py::arg("path"), py::arg("pattern"), py::arg("layer"), py::arg("head"), py::arg("tokens"),
      py::arg("colormap") = "Blues", py::arg("mask_upper") = true, py::arg("vmin") = py::none(),
      py::arg("vmax") = py::none(), py::arg("title") = "", py::arg("notation") = "LH");
  m.def(
      "save_attention_grid",
      [](const std::string& path, const py::dict& patterns, const std::vector<std::string>& tokens,
         const std::vector<int>& layers, const std::vector<int>& heads, const std::string& colormap, bool mask_upper,
         const std::string& notation) {
        FigureOptions o = figure_options(colormap, mask_upper, py::none(), py::none(), "", notation);
        auto map = pattern_map(patterns);
        py::gil_scoped_release release;
        return save_attention_grid(path, map, tokens, layers, heads, o);
      },
      py::arg("path"), py::arg("patterns"), py::arg("tokens"), py::arg("layers") = std::vector<int>{},
      py::arg("heads") = std::vector<int>{}, py::arg("colormap") = "Blues", py::arg("mask_upper") = true,
      py::arg("notation") = "LH");
}

}  // namespace attnscope::python
