// Predictions from logits or hidden states: top-k tokens (a logit lens when given a hidden state
// of any layer), log-probabilities and logit differences.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/tensor.h"

namespace attnscope {

class Model;

struct TokenPrediction {
  int32_t id = -1;
  float score = 0;    // the logit (return_scores); 0 when scores were not asked for
  float logprob = 0;  // log-softmax over the vocabulary (return_scores)
  std::string token;  // token_to_str(id); empty if the model has no tokenizer
};

// What the last dimension of a tensor handed to get_token_predictions holds.
enum class PredictionInput {
  Auto,    // n_vocab -> logits, n_embd -> hidden (n_vocab == n_embd is ambiguous: say which)
  Logits,  // [.., V]
  Hidden,  // [.., D]: a residual-stream state; goes through the final norm and the output head
};

struct PredictionOptions {
  int top_k = 10;
  bool return_scores = true;
  PredictionInput input = PredictionInput::Auto;
  bool apply_final_norm = true;  // for Hidden: false if the state is already normalised
  int position = -1;             // row of a [T, X] / [B, T, X] tensor (-1: the last)
  int batch = 0;                 // batch row of a [B, T, X] tensor
};

// The top-k next-token predictions, highest first, for one position of `logits_or_hidden`
// ([X], [T, X] or [B, T, X]).
std::vector<TokenPrediction> get_token_predictions(const Model& model, const Tensor& logits_or_hidden,
                                                   const PredictionOptions& options);
std::vector<TokenPrediction> get_token_predictions(const Model& model, const Tensor& logits_or_hidden, int top_k = 10,
                                                   bool return_scores = true);

// unembed (the logit lens) is declared with the model (model.h): it is the forward's own head.

// The readable form of a token (InvalidArgument without tokenizer or for an id out of range).
std::string token_to_str(const Model& model, int32_t id);

// Top-k of one logit row [V] (no model needed). Ties go to the smaller id.
std::vector<TokenPrediction> top_k_logits(const float* logits, int64_t n_vocab, int top_k, bool return_scores = true);
// log-softmax of every row of [.., V] (numerically stable).
Tensor log_softmax_rows(const Tensor& logits);
// softmax of every row of [.., V].
Tensor softmax_rows(const Tensor& logits);
// The log-probability of `token` at one position of logits ([V], [T, V] or [B, T, V]).
float token_logprob(const Tensor& logits, int32_t token, int position = -1, int batch = 0);
// logit[a] - logit[b] at one position (the usual metric of activation patching).
float logit_diff(const Tensor& logits, int32_t a, int32_t b, int position = -1, int batch = 0);
// Pointer to the row of `t` ([X], [T, X] or [B, T, X]) at (batch, position); position -1 = last.
// InvalidArgument for anything out of range.
const float* row_at(const Tensor& t, int position, int batch);

}  // namespace attnscope
