// The logit lens: a hidden state through the model's final norm and output head (the forward's own).
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "model/model_impl.h"
#include "tensor/threading.h"

namespace attnscope {

Tensor unembed(const Model& model, const Tensor& hidden, bool apply_final_norm) {
  const Model::Impl& m = model.impl();
  const ModelConfig& c = m.config;
  const ops::RunThreads threads(model.threads());  // the output head product, on the model's count
  if (hidden.ndim() < 1 || hidden.empty() || hidden.dim(-1) != c.n_embd)
    fail(ErrorKind::InvalidArgument,
         "unembed: expected [.., " + std::to_string(c.n_embd) + "] hidden states, got " + hidden.shape_str());
  const int64_t D = c.n_embd, V = c.n_vocab, rows = hidden.numel() / D;
  // The very final norm and head (with Gemma 2's final soft-cap) the forward pass ends with.
  const Tensor normed = apply_final_norm ? detail::final_norm(m, hidden) : hidden;
  Shape out_shape = hidden.shape();
  out_shape.back() = V;
  Tensor logits(out_shape);
  detail::output_head(m, normed.data(), rows, logits.data());
  return logits;
}

}  // namespace attnscope
