// Activation patching sweeps and path patching (patching.h) for attnscope.patching: the metric is
// given as a kind with its tokens, or as a Python callable on the logits, and results come back as
// numpy arrays in TransformerLens' layouts.
#include <memory>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/patching.h"
#include "bindings.h"

namespace attnscope::python {

namespace {

namespace pt = attnscope::patching;

// kind: "logit_diff", "logit", "log_prob" or "custom" (fn: logits [1, T, V] -> float).
pt::Metric make_metric(const std::string& kind, int32_t answer, int32_t wrong, int position, py::object fn) {
  if (kind == "logit_diff") return pt::logit_diff(answer, wrong, position);
  if (kind == "logit") return pt::logit(answer, position);
  if (kind == "log_prob") return pt::log_prob(answer, position);
  if (kind == "custom") {
    if (fn.is_none() || !PyCallable_Check(fn.ptr()))
      throw Error(ErrorKind::InvalidArgument, "a custom patching metric needs a callable on the logits");
    // Held with a GIL-taking deleter: the sweep runs without the GIL and may drop copies anywhere.
    std::shared_ptr<py::object> held(new py::object(std::move(fn)), [](py::object* o) {
      py::gil_scoped_acquire gil;
      delete o;
    });
    return pt::custom(
        [held](const Tensor& logits) {
          py::gil_scoped_acquire gil;
          py::object r = (*held)(to_numpy(logits));
          try {
            return r.cast<double>();
          } catch (const py::cast_error&) {
            throw Error(ErrorKind::InvalidArgument,
                        "a custom patching metric must return a number, got " + std::string(py::str(r.get_type())));
          }
        },
        "python metric");
  }
  throw Error(ErrorKind::InvalidArgument,
              "patching metric kind must be logit_diff, logit, log_prob or custom, not '" + kind + "'");
}

}  // namespace

void bind_patching(py::module_& m) {
  m.def("patching_sweep_names", &pt::sweep_names);
  m.def(
      "patching_sweep",
      [](const Model& model, const std::string& sweep, const std::vector<int32_t>& clean,
         const std::vector<int32_t>& corrupted, const std::string& kind, int32_t answer, int32_t wrong, int position,
         py::object fn, bool normalize, int max_batch) {
        pt::Metric metric = make_metric(kind, answer, wrong, position, std::move(fn));
        const pt::Sweep s = pt::sweep_from_name(sweep);
        pt::Result r;
        {
          py::gil_scoped_release release;
          pt::ActivationPatcher p(model, clean, corrupted, std::move(metric), {normalize, max_batch});
          r = p.run(s);
        }
        py::dict d;
        d["sweep"] = r.sweep;
        d["values"] = to_numpy(r.values);
        d["axes"] = r.axes;
        d["components"] = r.components;
        d["clean_metric"] = r.clean_metric;
        d["corrupted_metric"] = r.corrupted_metric;
        d["normalized"] = r.normalized;
        d["forward_passes"] = r.forward_passes;
        d["patched_runs"] = r.patched_runs;
        return d;
      },
      py::arg("model"), py::arg("sweep"), py::arg("clean"), py::arg("corrupted"), py::arg("kind"), py::arg("answer"),
      py::arg("wrong"), py::arg("position"), py::arg("fn"), py::arg("normalize"), py::arg("max_batch"));
  m.def(
      "path_patch",
      [](const Model& model, const std::vector<int32_t>& clean, const std::vector<int32_t>& corrupted,
         const std::vector<std::pair<int, int>>& senders, const std::vector<std::pair<int, int>>& receivers,
         const std::string& kind, int32_t answer, int32_t wrong, int position, py::object fn,
         const std::string& receiver_inputs, bool normalize, bool sweep) -> py::object {
        pt::Metric metric = make_metric(kind, answer, wrong, position, std::move(fn));
        pt::PathOptions o;
        o.receiver_inputs = receiver_inputs;
        o.normalize = normalize;
        if (sweep) {
          Tensor t;
          {
            py::gil_scoped_release release;
            t = pt::path_patch_sweep(model, clean, corrupted, receivers, metric, o);
          }
          return to_numpy(t);
        }
        double v;
        {
          py::gil_scoped_release release;
          v = pt::path_patch(model, clean, corrupted, senders, receivers, metric, o);
        }
        return py::float_(v);
      },
      py::arg("model"), py::arg("clean"), py::arg("corrupted"), py::arg("senders"), py::arg("receivers"),
      py::arg("kind"), py::arg("answer"), py::arg("wrong"), py::arg("position"), py::arg("fn"),
      py::arg("receiver_inputs"), py::arg("normalize"), py::arg("sweep"));
}

}  // namespace attnscope::python
