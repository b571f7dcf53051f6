// Next-token predictions for a model: top-k from logits or hidden states (logit lens), token_to_str.
#include "attnscope/predictions.h"

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"

namespace attnscope {

std::string token_to_str(const Model& model, int32_t id) {
  if (!model.has_tokenizer()) fail(ErrorKind::InvalidArgument, "token_to_str: the model has no tokenizer");
  const Tokenizer& tok = model.tokenizer();
  if (id < 0 || id >= tok.vocab_size())
    fail(ErrorKind::InvalidArgument,
         "token id " + std::to_string(id) + " out of range (vocabulary of " + std::to_string(tok.vocab_size()) + ")");
  return tok.token_to_str(id);
}

std::vector<TokenPrediction> get_token_predictions(const Model& model, const Tensor& x, const PredictionOptions& o) {
  const ModelConfig& cfg = model.config();
  if (x.ndim() < 1 || x.empty())
    fail(ErrorKind::InvalidArgument, "get_token_predictions: empty input " + x.shape_str());
  const int64_t last = x.dim(-1);
  PredictionInput kind = o.input;
  if (kind == PredictionInput::Auto) {
    if (cfg.n_vocab == cfg.n_embd && last == cfg.n_vocab)
      fail(ErrorKind::InvalidArgument, "get_token_predictions: n_vocab == n_embd == " + std::to_string(last) +
                                           "; say whether the input is logits or hidden states");
    if (last == cfg.n_vocab)
      kind = PredictionInput::Logits;
    else if (last == cfg.n_embd)
      kind = PredictionInput::Hidden;
    else
      fail(ErrorKind::InvalidArgument, "get_token_predictions: last dimension " + std::to_string(last) +
                                           " is neither n_vocab (" + std::to_string(cfg.n_vocab) + ") nor n_embd (" +
                                           std::to_string(cfg.n_embd) + ")");
  }
  const float* row = row_at(x, o.position, o.batch);
  Tensor logits;
  if (kind == PredictionInput::Hidden) {
    if (last != cfg.n_embd)
      fail(ErrorKind::InvalidArgument, "get_token_predictions: hidden state has " + std::to_string(last) +
                                           " values, the model's n_embd is " + std::to_string(cfg.n_embd));
    Tensor h({last}, std::vector<float>(row, row + last));
    logits = unembed(model, h, o.apply_final_norm);
    row = logits.data();
  } else if (last != cfg.n_vocab) {
    fail(ErrorKind::InvalidArgument, "get_token_predictions: logits have " + std::to_string(last) +
                                         " entries, the model's n_vocab is " + std::to_string(cfg.n_vocab));
  }
  auto preds = top_k_logits(row, cfg.n_vocab, o.top_k, o.return_scores);
  if (model.has_tokenizer())
    for (auto& p : preds)
      if (p.id < model.tokenizer().vocab_size()) p.token = model.tokenizer().token_to_str(p.id);
  return preds;
}

std::vector<TokenPrediction> get_token_predictions(const Model& model, const Tensor& x, int top_k, bool return_scores) {
  PredictionOptions o;
  o.top_k = top_k;
  o.return_scores = return_scores;
  return get_token_predictions(model, x, o);
}

}  // namespace attnscope
