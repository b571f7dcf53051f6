// The parts of the core beyond Model/Trace, one binding file each.
#include "bindings.h"

namespace attnscope::python {

void bind_interventions(py::module_& m);
void bind_predictions(py::module_& m);
void bind_analysis(py::module_& m);
void bind_viz(py::module_& m);
void bind_scan(py::module_& m);
void bind_attribution(py::module_& m);
void bind_fidelity(py::module_& m);
void bind_long_context(py::module_& m);
void bind_head_stats(py::module_& m);
void bind_patching(py::module_& m);

void bind_extras(py::module_& m) {
  bind_interventions(m);
  bind_predictions(m);
  bind_analysis(m);
  bind_viz(m);
  bind_scan(m);
  bind_attribution(m);
  bind_fidelity(m);
  bind_long_context(m);
  bind_head_stats(m);
  bind_patching(m);
}

}  // namespace attnscope::python
