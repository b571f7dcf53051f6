// Predictions (top-k tokens, logit lens, log-probabilities) for Python.
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/predictions.h"
#include "bindings.h"

namespace attnscope::python {

void bind_predictions(py::module_& m) {
  // -> [(id, logit, logprob)] of one logit row, highest first (ties: smaller id).
  m.def(
      "top_k_logits",
      [](const py::handle& row, int top_k) {
        Tensor t = from_numpy(row);
        if (t.ndim() != 1) throw Error(ErrorKind::InvalidArgument, "top_k_logits takes one row of logits [V]");
        py::list out;
        for (const auto& p : top_k_logits(t.data(), t.numel(), top_k, true))
          out.append(py::make_tuple(p.id, p.score, p.logprob));
        return out;
      },
      py::arg("logits"), py::arg("top_k") = 10);
  // -> [(id, logit, logprob, token_str)], highest first; logits or a hidden state (logit lens).
  m.def(
      "get_token_predictions",
      [](const Model& model, const py::handle& x, int top_k, int position, int batch) {
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
      },
      py::arg("model"), py::arg("logits_or_hidden"), py::arg("top_k") = 10, py::arg("position") = -1,
      py::arg("batch") = 0);
  m.def(
      "unembed",
      [](const Model& model, const py::handle& hidden, bool final_norm) {
        Tensor t = from_numpy(hidden);
        Tensor out;
        {
          py::gil_scoped_release release;
          out = unembed(model, t, final_norm);
        }
        return to_numpy(out);
      },
      py::arg("model"), py::arg("hidden"), py::arg("apply_final_norm") = true);
  m.def(
      "token_logprob",
      [](const py::handle& logits, int32_t token, int position, int batch) {
        return token_logprob(from_numpy(logits), token, position, batch);
      },
      py::arg("logits"), py::arg("token"), py::arg("position") = -1, py::arg("batch") = 0);
  m.def(
      "logit_diff",
      [](const py::handle& logits, int32_t a, int32_t b, int position, int batch) {
        return logit_diff(from_numpy(logits), a, b, position, batch);
      },
      py::arg("logits"), py::arg("a"), py::arg("b"), py::arg("position") = -1, py::arg("batch") = 0);
}

}  // namespace attnscope::python
