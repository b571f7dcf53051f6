// attnscope::Error -> the Python exception class that fits its ErrorKind, message unchanged.
#include "attnscope/error.h"
#include "bindings.h"

namespace attnscope::python {

void bind_errors(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      switch (e.kind()) {
        case ErrorKind::InvalidArgument:
        case ErrorKind::Format:
          PyErr_SetString(PyExc_ValueError, e.what());
          return;
        case ErrorKind::NotFound:
          PyErr_SetString(PyExc_FileNotFoundError, e.what());
          return;
        case ErrorKind::Unsupported:
          PyErr_SetString(PyExc_NotImplementedError, e.what());  // a RuntimeError subclass
          return;
        case ErrorKind::Io:
          PyErr_SetString(PyExc_OSError, e.what());
          return;
        case ErrorKind::Network:
          PyErr_SetString(PyExc_ConnectionError, e.what());
          return;
      }
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  // Lets tests check the mapping without needing a model that fails in each way.
  m.def("_raise_error", [](const std::string& kind, const std::string& message) {
    static const std::pair<const char*, ErrorKind> kinds[] = {
        {"InvalidArgument", ErrorKind::InvalidArgument}, {"NotFound", ErrorKind::NotFound},
        {"Format", ErrorKind::Format},           {"Unsupported", ErrorKind::Unsupported},
        {"Io", ErrorKind::Io},                   {"Network", ErrorKind::Network}};
    for (const auto& [name, k] : kinds)
      if (kind == name) throw Error(k, message);
    throw std::runtime_error(message);
  });
}

}  // namespace attnscope::python
