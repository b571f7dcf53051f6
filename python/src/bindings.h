// Shared declarations of the attnscope._core extension: each bind_*.cpp adds one area's classes
// and functions to the module; numpy_tensor.cpp moves tensors across the language boundary.
#pragma once
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "attnscope/tensor.h"
#include "attnscope/trace.h"

namespace attnscope::python {

namespace py = pybind11;

// A numpy float32 array over the tensor's memory, no copy: the array's base is a capsule owning a
// copy of the Tensor handle, which shares (and so keeps alive) its storage. Read-only views (e.g.
// mmap'd weights) come out as non-writeable arrays.
py::array_t<float> to_numpy(const Tensor& tensor);
// A float32 tensor holding a copy of any array-like (converted to C-contiguous float32).
Tensor from_numpy(const py::handle& array_like);

// A Python callable used as an intervention. It is called as fn(array, hook_name, layer) with a
// writeable array over the hook's value; a returned array (of the same shape) replaces the value,
// None means "changed in place". The callable is held so that it may be copied and destroyed on
// threads that do not hold the GIL.
InterventionFn python_intervention(py::object fn);

// An intervention implemented in C++ (no GIL needed while it runs), as Python sees it.
struct NativeIntervention {
  InterventionFn fn;
  std::string description;
};

void bind_errors(py::module_& m);
void bind_model(py::module_& m);
void bind_extras(py::module_& m);  // analysis / viz / interventions, as far as they exist

}  // namespace attnscope::python
