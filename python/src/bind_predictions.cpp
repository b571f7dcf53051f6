// Predictions (top-k tokens, logit lens, log-probabilities) for Python.
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/predictions.h"
#include "bindings.h"

namespace attnscope::python {

void bind_predictions(py::module_& m) {
  // -> [(id, logit, logprob)] of one logit row, highest first (ties: smaller id).
  m.def("top_k_logits", [](const py::handle& row, int top_k) {
    Tensor t = from_numpy(row);
    if (t.ndim() != 1) throw Error(ErrorKind::InvalidArgument, "top_k_logits takes one row of logits [V]");
    py::list out;
    for (const auto& p : top_k_logits(t.data(), t.numel(), top_k, true))
      out.append(py::make_tuple(p.id, p.score, p.logprob));
    return out;
  }, py::arg("logits"), py::arg("top_k") = 10);
  // get_token_predictions (which takes hidden states too) is bound once the core implements
  // unembed, which it needs.
  // unembed (logit lens on hidden states) is bound once the core implements it.
  m.def("token_logprob", [](const py::handle& logits, int32_t token, int position, int batch) {
    return token_logprob(from_numpy(logits), token, position, batch);
  }, py::arg("logits"), py::arg("token"), py::arg("position") = -1, py::arg("batch") = 0);
  m.def("logit_diff", [](const py::handle& logits, int32_t a, int32_t b, int position, int batch) {
    return logit_diff(from_numpy(logits), a, b, position, batch);
  }, py::arg("logits"), py::arg("a"), py::arg("b"), py::arg("position") = -1, py::arg("batch") = 0);
}

}  // namespace attnscope::python
