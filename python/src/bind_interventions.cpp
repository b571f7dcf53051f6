// attnscope::iv for Python: each edit comes out as a NativeIntervention (runs without the GIL);
// head-level interventions come out as (target, NativeIntervention) pairs. The head-ablation
// sweep comes out as its C++ result, with numpy layers x heads tables added.
#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "bindings.h"

namespace attnscope::python {

namespace {

NativeIntervention native(const iv::Edit& e) { return {e.fn, e.description}; }
py::tuple pair(const Intervention& i) { return py::make_tuple(i.target, NativeIntervention{i.fn, i.description}); }

iv::Edit to_edit(const py::handle& obj) {
  if (py::isinstance<NativeIntervention>(obj)) {
    const auto& n = obj.cast<const NativeIntervention&>();
    return iv::Edit{n.fn, n.description};
  }
  if (!PyCallable_Check(obj.ptr()))
    throw Error(ErrorKind::InvalidArgument, "compose() takes interventions or callables");
  std::string name =
      py::hasattr(obj, "__name__") ? py::str(obj.attr("__name__")).cast<std::string>() : std::string("python callable");
  return iv::custom(python_intervention(py::reinterpret_borrow<py::object>(obj)), name);
}

iv::Align to_align(const std::string& a) {
  if (a == "exact") return iv::Align::Exact;
  if (a == "start") return iv::Align::Start;
  if (a == "end") return iv::Align::End;
  throw Error(ErrorKind::InvalidArgument, "align must be 'exact', 'start' or 'end', not '" + a + "'");
}

// One field of every effect as a [swept layers, heads] float32 array, rows in ascending layer
// order (the order of the result's JSON tables and of sweep_layers()).
std::vector<int> sweep_layers(const AblationSweepResult& r) {
  std::vector<int> layers;
  for (const auto& e : r.effects)
    if (layers.empty() || layers.back() != e.layer) layers.push_back(e.layer);
  return layers;
}

py::array_t<float> sweep_table(const AblationSweepResult& r, float HeadEffect::*field) {
  const std::vector<int> layers = sweep_layers(r);
  py::array_t<float> out({static_cast<py::ssize_t>(layers.size()), static_cast<py::ssize_t>(r.n_head)});
  auto a = out.mutable_unchecked<2>();
  for (size_t i = 0; i < layers.size(); ++i)
    for (int h = 0; h < r.n_head; ++h) a(static_cast<py::ssize_t>(i), h) = r.at(layers[i], h).*field;
  return out;
}

void bind_sweep(py::module_& m) {
  py::class_<HeadEffect>(m, "HeadEffect")
      .def_readonly("layer", &HeadEffect::layer)
      .def_readonly("head", &HeadEffect::head)
      .def_readonly("logit", &HeadEffect::logit)
      .def_readonly("prob", &HeadEffect::prob)
      .def_readonly("delta_logit", &HeadEffect::delta_logit)
      .def_readonly("delta_prob", &HeadEffect::delta_prob)
      .def("__repr__", [](const HeadEffect& e) {
        return "<HeadEffect L" + std::to_string(e.layer) + "H" + std::to_string(e.head) +
               " delta_logit=" + std::to_string(e.delta_logit) + ">";
      });

  py::class_<AblationSweepResult>(m, "AblationSweepResult")
      .def_readonly("n_layer", &AblationSweepResult::n_layer)
      .def_readonly("n_head", &AblationSweepResult::n_head)
      .def_readonly("target", &AblationSweepResult::target)
      .def_readonly("target_str", &AblationSweepResult::target_str)
      .def_readonly("position", &AblationSweepResult::position)
      .def_property_readonly(
          "kind", [](const AblationSweepResult& r) { return r.kind == AblationKind::Zero ? "zero" : "mean"; })
      .def_readonly("clean_logit", &AblationSweepResult::clean_logit)
      .def_readonly("clean_prob", &AblationSweepResult::clean_prob)
      .def_readonly("effects", &AblationSweepResult::effects)
      .def_readonly("forward_passes", &AblationSweepResult::forward_passes)
      .def_readonly("seconds", &AblationSweepResult::seconds)
      .def_property_readonly("layers", &sweep_layers)
      .def_property_readonly("logit", [](const AblationSweepResult& r) { return sweep_table(r, &HeadEffect::logit); })
      .def_property_readonly("prob", [](const AblationSweepResult& r) { return sweep_table(r, &HeadEffect::prob); })
      .def_property_readonly("delta_logit",
                             [](const AblationSweepResult& r) { return sweep_table(r, &HeadEffect::delta_logit); })
      .def_property_readonly("delta_prob",
                             [](const AblationSweepResult& r) { return sweep_table(r, &HeadEffect::delta_prob); })
      .def("at", &AblationSweepResult::at, py::arg("layer"), py::arg("head"))
      .def("ranked", &AblationSweepResult::ranked)
      .def("to_json", &AblationSweepResult::to_json)
      .def("to_csv", &AblationSweepResult::to_csv);

  m.def(
      "head_ablation_sweep",
      [](const Model& model, const std::vector<int32_t>& ids, int32_t target, int position, bool mean,
         const std::vector<int>& layers, bool reuse_prefix, int max_batch) {
        AblationSweepOptions o;
        o.target = target;
        o.position = position;
        o.kind = mean ? AblationKind::Mean : AblationKind::Zero;
        o.layers = layers;
        o.reuse_prefix = reuse_prefix;
        o.max_batch = max_batch;
        // Only built-in C++ edits run inside the sweep, so it needs no Python at all.
        py::gil_scoped_release release;
        return head_ablation_sweep(model, ids, o);
      },
      py::arg("model"), py::arg("ids"), py::arg("target"), py::arg("position") = -1, py::arg("mean") = false,
      py::arg("layers") = std::vector<int>{}, py::arg("reuse_prefix") = true, py::arg("max_batch") = 0);
}

}  // namespace

void bind_interventions(py::module_& m) {
  m.def("iv_zero_out", [] { return native(iv::zero_out()); });
  m.def(
      "iv_scale", [](float f) { return native(iv::scale(f)); }, py::arg("factor"));
  m.def(
      "iv_add_vector", [](const py::handle& v, float coeff) { return native(iv::add_vector(from_numpy(v), coeff)); },
      py::arg("vector"), py::arg("coeff") = 1.0f);
  m.def(
      "iv_clamp", [](float lo, float hi) { return native(iv::clamp(lo, hi)); }, py::arg("lo"), py::arg("hi"));
  m.def(
      "iv_noise", [](float std, uint64_t seed) { return native(iv::noise(std, seed)); }, py::arg("std"),
      py::arg("seed") = 0);
  m.def(
      "iv_replace_with",
      [](const py::handle& v, const std::string& align) {
        return native(iv::replace_with(from_numpy(v), to_align(align)));
      },
      py::arg("replacement"), py::arg("align") = "exact");
  m.def(
      "iv_compose",
      [](const py::list& items) {
        std::vector<iv::Edit> edits;
        for (const auto& it : items) edits.push_back(to_edit(it));
        return native(iv::compose(std::move(edits)));
      },
      py::arg("edits"));
  m.def(
      "iv_zero_ablate_heads",
      [](int layer, std::vector<int> heads) { return pair(iv::zero_ablate_heads(layer, std::move(heads))); },
      py::arg("layer"), py::arg("heads"));
  m.def(
      "iv_mean_ablate_heads",
      [](int layer, std::vector<int> heads, const py::object& means) {
        Tensor t = means.is_none() ? Tensor() : from_numpy(means);
        return pair(iv::mean_ablate_heads(layer, std::move(heads), std::move(t)));
      },
      py::arg("layer"), py::arg("heads"), py::arg("means") = py::none());
  m.def(
      "iv_set_head_pattern",
      [](int layer, int head, const py::handle& pattern) {
        return pair(iv::set_head_pattern(layer, head, from_numpy(pattern)));
      },
      py::arg("layer"), py::arg("head"), py::arg("pattern"));
  m.def(
      "iv_set_head_pattern_uniform",
      [](int layer, int head) { return pair(iv::set_head_pattern_uniform(layer, head)); }, py::arg("layer"),
      py::arg("head"));
  m.def(
      "iv_patch_heads",
      [](int layer, std::vector<int> heads, const Trace& source, const std::string& hook) {
        return pair(iv::patch_heads(layer, std::move(heads), source, hook));
      },
      py::arg("layer"), py::arg("heads"), py::arg("source"), py::arg("hook") = "attn.hook_z");
  m.def(
      "iv_patch_hook",
      [](const std::string& target, const Trace& source) { return pair(iv::patch_hook(target, source)); },
      py::arg("target"), py::arg("source"));
  m.def("iv_head_axis", &iv::head_axis, py::arg("canonical_hook"));
  m.def("iv_matching_hooks", &iv::matching_hooks, py::arg("target"), py::arg("hook_names"));
  bind_sweep(m);
}

}  // namespace attnscope::python
