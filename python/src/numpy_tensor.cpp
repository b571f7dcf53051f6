// Tensor <-> numpy without copying on the way out, and the Python-callable intervention adapter.
#include <cstring>

#include "attnscope/error.h"
#include "bindings.h"

namespace attnscope::python {

namespace {

// Wraps `data` (laid out as `shape`, C order) in an array whose base owns `keepalive`.
py::array_t<float> wrap(const Shape& shape, float* data, const Tensor& keepalive, bool writeable) {
  auto* handle = new Tensor(keepalive);
  py::capsule owner(handle, [](void* p) { delete static_cast<Tensor*>(p); });
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  py::array_t<float> array(dims, data, owner);
  if (!writeable) array.attr("flags").attr("writeable") = false;
  return array;
}

}  // namespace

py::array_t<float> to_numpy(const Tensor& tensor) {
  if (tensor.numel() == 0) {
    std::vector<py::ssize_t> dims(tensor.shape().begin(), tensor.shape().end());
    return py::array_t<float>(dims);
  }
  return wrap(tensor.shape(), const_cast<float*>(tensor.data()), tensor, !tensor.is_view());
}

Tensor from_numpy(const py::handle& array_like) {
  auto array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array_like);
  if (!array) throw Error(ErrorKind::InvalidArgument, "expected an array of numbers");
  Shape shape(array.shape(), array.shape() + array.ndim());
  std::vector<float> values(array.data(), array.data() + array.size());
  return Tensor(std::move(shape), std::move(values));
}

InterventionFn python_intervention(py::object fn) {
  // The deleter takes the GIL: the forward pass may copy or drop the std::function anywhere.
  std::shared_ptr<py::object> held(new py::object(std::move(fn)), [](py::object* o) {
    py::gil_scoped_acquire gil;
    delete o;
  });
  return [held](Tensor& value, const HookContext& ctx) {
    py::gil_scoped_acquire gil;
    if (value.is_view()) value = value.clone();  // read-only memory cannot be handed out writeable
    py::array_t<float> array =
        value.numel() == 0 ? to_numpy(value) : wrap(value.shape(), value.data(), value, /*writeable=*/true);
    py::object result = (*held)(array, ctx.name, ctx.layer);
    if (result.is_none() || result.is(array)) return;
    Tensor replacement = from_numpy(result);
    if (replacement.shape() != value.shape())
      throw Error(ErrorKind::InvalidArgument, "intervention on " + ctx.name + " returned shape " +
                                                  replacement.shape_str() + " but the hook's value has shape " +
                                                  value.shape_str());
    std::memcpy(value.data(), replacement.data(), sizeof(float) * value.numel());
  };
}

}  // namespace attnscope::python
