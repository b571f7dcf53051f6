// attnscope::iv for Python: each edit comes out as a NativeIntervention (runs without the GIL);
// head-level interventions come out as (target, NativeIntervention) pairs.
#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "bindings.h"

namespace attnscope::python {

namespace {

NativeIntervention native(const iv::Edit& e) { return {e.fn, e.description}; }
py::tuple pair(const Intervention& i) {
  return py::make_tuple(i.target, NativeIntervention{i.fn, i.description});
}

iv::Edit to_edit(const py::handle& obj) {
  if (py::isinstance<NativeIntervention>(obj)) {
    const auto& n = obj.cast<const NativeIntervention&>();
    return iv::Edit{n.fn, n.description};
  }
  if (!PyCallable_Check(obj.ptr()))
    throw Error(ErrorKind::InvalidArgument, "compose() takes interventions or callables");
  std::string name = py::hasattr(obj, "__name__") ? py::str(obj.attr("__name__")).cast<std::string>()
                                                   : std::string("python callable");
  return iv::custom(python_intervention(py::reinterpret_borrow<py::object>(obj)), name);
}

iv::Align to_align(const std::string& a) {
  if (a == "exact") return iv::Align::Exact;
  if (a == "start") return iv::Align::Start;
  if (a == "end") return iv::Align::End;
  throw Error(ErrorKind::InvalidArgument, "align must be 'exact', 'start' or 'end', not '" + a + "'");
}

}  // namespace

void bind_interventions(py::module_& m) {
  m.def("iv_zero_out", [] { return native(iv::zero_out()); });
  m.def("iv_scale", [](float f) { return native(iv::scale(f)); }, py::arg("factor"));
  m.def("iv_add_vector", [](const py::handle& v, float coeff) { return native(iv::add_vector(from_numpy(v), coeff)); },
        py::arg("vector"), py::arg("coeff") = 1.0f);
  m.def("iv_clamp", [](float lo, float hi) { return native(iv::clamp(lo, hi)); }, py::arg("lo"), py::arg("hi"));
  m.def("iv_noise", [](float std, uint64_t seed) { return native(iv::noise(std, seed)); },
        py::arg("std"), py::arg("seed") = 0);
  m.def("iv_replace_with", [](const py::handle& v, const std::string& align) {
    return native(iv::replace_with(from_numpy(v), to_align(align)));
  }, py::arg("replacement"), py::arg("align") = "exact");
  m.def("iv_compose", [](const py::list& items) {
    std::vector<iv::Edit> edits;
    for (const auto& it : items) edits.push_back(to_edit(it));
    return native(iv::compose(std::move(edits)));
  }, py::arg("edits"));
  m.def("iv_zero_ablate_heads", [](int layer, std::vector<int> heads) {
    return pair(iv::zero_ablate_heads(layer, std::move(heads)));
  }, py::arg("layer"), py::arg("heads"));
  m.def("iv_mean_ablate_heads", [](int layer, std::vector<int> heads, const py::object& means) {
    Tensor t = means.is_none() ? Tensor() : from_numpy(means);
    return pair(iv::mean_ablate_heads(layer, std::move(heads), std::move(t)));
  }, py::arg("layer"), py::arg("heads"), py::arg("means") = py::none());
  m.def("iv_set_head_pattern", [](int layer, int head, const py::handle& pattern) {
    return pair(iv::set_head_pattern(layer, head, from_numpy(pattern)));
  }, py::arg("layer"), py::arg("head"), py::arg("pattern"));
  m.def("iv_set_head_pattern_uniform", [](int layer, int head) {
    return pair(iv::set_head_pattern_uniform(layer, head));
  }, py::arg("layer"), py::arg("head"));
  m.def("iv_patch_heads", [](int layer, std::vector<int> heads, const Trace& source, const std::string& hook) {
    return pair(iv::patch_heads(layer, std::move(heads), source, hook));
  }, py::arg("layer"), py::arg("heads"), py::arg("source"), py::arg("hook") = "attn.hook_z");
  m.def("iv_patch_hook", [](const std::string& target, const Trace& source) {
    return pair(iv::patch_hook(target, source));
  }, py::arg("target"), py::arg("source"));
  m.def("iv_head_axis", &iv::head_axis, py::arg("canonical_hook"));
  m.def("iv_matching_hooks", &iv::matching_hooks, py::arg("target"), py::arg("hook_names"));
}

}  // namespace attnscope::python
