// The logit lens: a hidden state through the model's final norm and output head.
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/predictions.h"
#include "model/model_impl.h"
#include "tensor/ops.h"

namespace attnscope {

Tensor unembed(const Model& model, const Tensor& hidden, bool apply_final_norm) {
  const Model::Impl& m = model.impl();
  const ModelConfig& c = m.config;
  if (hidden.ndim() < 1 || hidden.empty() || hidden.dim(-1) != c.n_embd)
    fail(ErrorKind::InvalidArgument, "unembed: expected [.., " + std::to_string(c.n_embd) + "] hidden states, got " +
                                         hidden.shape_str());
  const int64_t D = c.n_embd, V = c.n_vocab, rows = hidden.numel() / D;
  Tensor normed = hidden;
  if (apply_final_norm) {
    normed = Tensor(hidden.shape());
    const Tensor& w = m.weight("output_norm.weight");
    if (c.norm == NormKind::RMSNorm) {
      ops::rmsnorm(hidden.data(), w.data(), normed.data(), rows, D, c.norm_eps);
    } else {
      const Tensor* b = m.find_weight("output_norm.bias");
      ops::layernorm(hidden.data(), w.data(), b ? b->data() : nullptr, normed.data(), rows, D, c.norm_eps);
    }
  }
  const std::string head = c.tied_embeddings ? "token_embd.weight" : "output.weight";
  Shape out_shape = hidden.shape();
  out_shape.back() = V;
  Tensor logits(out_shape);
  m.linear(normed.data(), rows, head, nullptr, logits.data());
  return logits;
}

}  // namespace attnscope
