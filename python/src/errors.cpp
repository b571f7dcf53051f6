// attnscope::Error -> the Python exception class of its ErrorKind (attnscope.errors), message
// unchanged. The classes are Python-defined so they can also derive from the fitting built-in
// (ValueError, FileNotFoundError, ...).
#include "attnscope/error.h"
#include "attnscope/warnings.h"
#include "bindings.h"

namespace attnscope::python {

namespace {
const char* kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::InvalidArgument:
      return "InvalidArgument";
    case ErrorKind::NotFound:
      return "NotFound";
    case ErrorKind::Format:
      return "Format";
    case ErrorKind::Unsupported:
      return "Unsupported";
    case ErrorKind::Io:
      return "Io";
    case ErrorKind::Network:
      return "Network";
  }
  return "InvalidArgument";
}
}  // namespace

void bind_errors(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      try {
        const py::object cls = py::module_::import("attnscope.errors").attr("BY_KIND")[kind_name(e.kind())];
        PyErr_SetString(cls.ptr(), e.what());
      } catch (const py::error_already_set&) {  // the package is not importable: a built-in
        PyErr_SetString(e.kind() == ErrorKind::NotFound ? PyExc_FileNotFoundError : PyExc_ValueError, e.what());
      }
    }
  });
  // Library warnings (attnscope/warnings.h) become Python warnings of the category that fits
  // (attnscope.errors.warning_category). Called from any thread: takes the GIL.
  set_warning_handler([](const std::string& key, const std::string& message) {
    py::gil_scoped_acquire gil;
    const py::object category = py::module_::import("attnscope.errors").attr("warning_category")(key);
    if (PyErr_WarnEx(category.ptr(), message.c_str(), 2) != 0) throw py::error_already_set();
  });
  // Lets tests check the mapping without needing a model that fails in each way.
  m.def("_raise_error", [](const std::string& kind, const std::string& message) {
    static const std::pair<const char*, ErrorKind> kinds[] = {{"InvalidArgument", ErrorKind::InvalidArgument},
                                                              {"NotFound", ErrorKind::NotFound},
                                                              {"Format", ErrorKind::Format},
                                                              {"Unsupported", ErrorKind::Unsupported},
                                                              {"Io", ErrorKind::Io},
                                                              {"Network", ErrorKind::Network}};
    for (const auto& [name, k] : kinds)
      if (kind == name) throw Error(k, message);
    throw std::runtime_error(message);
  });
}

}  // namespace attnscope::python
