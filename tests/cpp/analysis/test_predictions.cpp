// Predictions on a real model: top-k from logits, the logit lens on hidden states, token strings.
#include <gtest/gtest.h>

#include <cmath>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/predictions.h"

using namespace attnscope;

namespace {
const Model& stories() {
  static Model m = Model::load(std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf");
  return m;
}
}  // namespace

TEST(Predictions, TopKFromLogitsIsTheArgmaxWithLogprobs) {
  RunOptions o;
  o.capture = {"blocks.*.hook_resid_post", "ln_final.hook_normalized"};
  Trace t = stories().run("Once upon a time, there was a little", o);
  auto top = get_token_predictions(stories(), t.logits, 5, true);
  ASSERT_EQ(top.size(), 5u);
  const int64_t V = t.logits.dim(2), T = t.logits.dim(1);
  int32_t best = 0;
  for (int32_t i = 1; i < V; ++i)
    if (t.logits.at({0, T - 1, i}) > t.logits.at({0, T - 1, best})) best = i;
  EXPECT_EQ(top[0].id, best);
  EXPECT_EQ(top[0].token, stories().tokenizer().token_to_str(best));
  EXPECT_EQ(top[0].token, token_to_str(stories(), best));
  EXPECT_NEAR(top[0].logprob, token_logprob(t.logits, best), 1e-5);
  for (size_t i = 1; i < top.size(); ++i) EXPECT_GE(top[i - 1].score, top[i].score);
  // Logit lens: the last layer's residual stream through final norm + head gives the logits.
  const int L = stories().config().n_layer - 1;
  auto lens = get_token_predictions(stories(), t.at("blocks." + std::to_string(L) + ".hook_resid_post"), 5, true);
  for (size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(lens[i].id, top[i].id);
    EXPECT_NEAR(lens[i].score, top[i].score, 1e-4);
  }
  // Already-normalised states: skip the norm.
  PredictionOptions po;
  po.top_k = 3;
  po.input = PredictionInput::Hidden;
  po.apply_final_norm = false;
  auto normed = get_token_predictions(stories(), t.at("ln_final.hook_normalized"), po);
  EXPECT_EQ(normed[0].id, best);
  // Every layer works as a lens and a middle position can be chosen.
  po.apply_final_norm = true;
  po.position = 2;
  auto early = get_token_predictions(stories(), t.at("blocks.0.hook_resid_post"), po);
  EXPECT_EQ(early.size(), 3u);
  // Full unembed of all positions matches the logits.
  Tensor lg = unembed(stories(), t.at("blocks." + std::to_string(L) + ".hook_resid_post"));
  EXPECT_EQ(lg.shape(), t.logits.shape());
  float m = 0;
  for (int64_t i = 0; i < lg.numel(); ++i) m = std::max(m, std::abs(lg.data()[i] - t.logits.data()[i]));
  EXPECT_LT(m, 1e-4f);
}

TEST(Predictions, BadInputsAreErrors) {
  Trace t = stories().run("Once upon");
  EXPECT_THROW(get_token_predictions(stories(), Tensor({7}), 3), Error);  // neither V nor D
  EXPECT_THROW(get_token_predictions(stories(), t.logits, 0), Error);
  EXPECT_THROW(token_to_str(stories(), -1), Error);
  EXPECT_THROW(token_to_str(stories(), stories().config().n_vocab), Error);
  EXPECT_THROW(unembed(stories(), Tensor({2, 3})), Error);
  const int32_t a = stories().encode("Lily", false).at(0), b = stories().encode("Tom", false).at(0);
  EXPECT_FLOAT_EQ(logit_diff(t.logits, a, b),
                  t.logits.at({0, t.logits.dim(1) - 1, a}) - t.logits.at({0, t.logits.dim(1) - 1, b}));
}
