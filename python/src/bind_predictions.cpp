// Predictions (top-k tokens, logit lens, log-probabilities) for Python.
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/predictions.h"
#include "bindings.h"

namespace attnscope::python {

void bind_predictions(py::module_& m) {
  // -> [(id, logit, logprob, token_str)], highest first.
  m.def("get_token_predictions", [](const Model& model, const py::handle& x, int top_k, int position, int batch) {
    Tensor t = from_numpy(x);
    PredictionOptions o;
    o.top_k = top_k;
    o.return_scores = true;
    o.position = position;
    o.batch = batch;
    std::vector<TokenPrediction> preds;
    {
      py::gil_scoped_release release;
      preds = get_token_predictions(model, t, o);
    }
    py::list out;
    for (const auto& p : preds) out.append(py::make_tuple(p.id, p.score, p.logprob, p.token));
    return out;
  }, py::arg("model"), py::arg("logits_or_hidden"), py::arg("top_k") = 10, py::arg("position") = -1,
     py::arg("batch") = 0);
  // unembed (logit lens on hidden states) is bound once the core implements it.
  m.def("token_logprob", [](const py::handle& logits, int32_t token, int position, int batch) {
    return token_logprob(from_numpy(logits), token, position, batch);
  }, py::arg("logits"), py::arg("token"), py::arg("position") = -1, py::arg("batch") = 0);
  m.def("logit_diff", [](const py::handle& logits, int32_t a, int32_t b, int position, int batch) {
    return logit_diff(from_numpy(logits), a, b, position, batch);
  }, py::arg("logits"), py::arg("a"), py::arg("b"), py::arg("position") = -1, py::arg("batch") = 0);
}

}  // namespace attnscope::python
