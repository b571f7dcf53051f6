// attnscope._core: the C++ core as the Python package sees it. The public Python API lives in
// python/attnscope/ and wraps these low-level bindings.
#include "bindings.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "attnscope C++ core (low-level bindings; use the attnscope package instead)";
  attnscope::python::bind_errors(m);
  attnscope::python::bind_model(m);
  attnscope::python::bind_extras(m);
}
